// SPDX-License-Identifier: GPL-2.0
/*
 * Host-side test of libxt_IPSECMSS.so through libxtables, no kernel needed.
 *
 * Each case runs in a forked child that does what iptables does with
 * "-j IPSECMSS <args>": xtables_init_all, xtables_find_target, the option
 * merge (xtables_options_xfrm), getopt_long, xtables_option_tpcall for
 * every option and xtables_option_tfcall at the end, then print, save and
 * xlate.  xtables_error ends the child, so the parent sees its exit status
 * and stderr.  The parent compares everything with the tables below, which
 * were written by hand from the spec and the ESP formula of
 * include/ipsecmss_core.h; nothing here calls the code under test to find
 * an expected value.
 *
 * Environment: XTABLES_LIBDIR (must reach the fresh libxt_IPSECMSS.so),
 * IPSECMSS_PLUGIN (its path, to check that this very file was loaded).
 * Output: one "PASS: unit/plugin-<name>" or "FAIL: unit/plugin-<name>: why"
 * line per assertion; exit status 1 if anything failed.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <getopt.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>
#include <xtables.h>

#include "xt_ipsecmss.h"

#define ARGS(...) ((const char *const[]){ __VA_ARGS__, NULL })
#define NOARGS ((const char *const[]){ NULL })
#define MAXARGS 32
#ifndef ARRAY_SIZE
#define ARRAY_SIZE(a) (sizeof(a) / sizeof((a)[0]))
#endif

/* ---------------------------------------------------------------- child */

static void __attribute__((noreturn, format(printf, 2, 3)))
child_exit_err(enum xtables_exittype status, const char *msg, ...)
{
	va_list ap;

	va_start(ap, msg);
	fputs("error: ", stderr);
	vfprintf(stderr, msg, ap);
	fputc('\n', stderr);
	va_end(ap);
	exit(status);
}

/* like iptables-translate: no kernel to ask which revisions it has */
static int child_compat_rev(const char *name, uint8_t rev, int opt)
{
	(void)name;
	(void)rev;
	(void)opt;
	return 1;
}

static struct option child_base_opts[] = {
	{ .name = "help", .has_arg = no_argument, .val = 'h' },
	{ .name = NULL },
};

static struct xtables_globals child_globals = {
	.option_offset = 0,
	.program_name = "plugin_driver",
	.program_version = "test",
	.orig_opts = child_base_opts,
	.exit_err = child_exit_err,
	.compat_rev = child_compat_rev,
};

/* the file the target was loaded from, as the dynamic linker mapped it */
static void child_print_lib(void)
{
	char line[4096];
	FILE *f = fopen("/proc/self/maps", "r");

	if (f == NULL) {
		printf("LIB ?\n");
		return;
	}
	while (fgets(line, sizeof(line), f) != NULL) {
		char *p = strchr(line, '/');

		if (p != NULL && strstr(p, "libxt_IPSECMSS.so") != NULL) {
			p[strcspn(p, "\n")] = '\0';
			printf("LIB %s\n", p);
			fclose(f);
			return;
		}
	}
	fclose(f);
	printf("LIB none\n");
}

enum child_job { JOB_PARSE, JOB_HELP };

static void __attribute__((noreturn))
child_main(int family, const char *const *args, enum child_job job)
{
	uint8_t nfproto = family == 6 ? NFPROTO_IPV6 : NFPROTO_IPV4;
	static unsigned char fw[1024] __attribute__((aligned(16)));
	char *argv[MAXARGS + 2];
	struct xtables_target *t;
	struct xt_xlate_tg_params xp;
	struct xt_xlate *xl;
	struct option *opts;
	unsigned int i;
	size_t size;
	int argc = 0, c, rc;

	if (xtables_init_all(&child_globals, nfproto) < 0) {
		fprintf(stderr, "xtables_init_all failed\n");
		exit(100);
	}
	t = xtables_find_target("IPSECMSS", XTF_LOAD_MUST_SUCCEED);
	printf("META family=%u revision=%u size=%zu userspacesize=%zu\n",
	       t->family, t->revision, t->size, t->userspacesize);
	child_print_lib();
	if (job == JOB_HELP) {
		printf("HELP\n");
		t->help();
		printf("\n");
		exit(0);
	}

	xtables_option_metavalidate(t->name, t->x6_options);
	size = XT_ALIGN(sizeof(struct xt_entry_target)) + t->size;
	t->t = xtables_calloc(1, size);
	t->t->u.target_size = (__u16)size;
	strcpy(t->t->u.user.name, t->name);
	t->t->u.user.revision = t->revision;
	if (t->init != NULL)
		t->init(t->t);
	opts = xtables_options_xfrm(child_globals.orig_opts, NULL,
				    t->x6_options, &t->option_offset);

	argv[argc++] = (char *)"plugin_driver";
	for (i = 0; args[i] != NULL && argc <= MAXARGS; i++)
		argv[argc++] = (char *)args[i];
	argv[argc] = NULL;

	optind = 0;	/* full reinitialisation of glibc's getopt */
	opterr = 1;
	while ((c = getopt_long(argc, argv, "", opts, NULL)) != -1) {
		if (c == '?' || c == ':' ||
		    (unsigned int)c < t->option_offset)
			xtables_error(PARAMETER_PROBLEM,
				      "driver: bad option \"%s\"",
				      argv[optind - 1]);
		xtables_option_tpcall((unsigned int)c, argv, false, t, fw);
	}
	if (optind < argc)
		xtables_error(PARAMETER_PROBLEM, "driver: stray argument \"%s\"",
			      argv[optind]);
	xtables_option_tfcall(t);

	/* the module parameters changed after the rule went in */
	if (getenv("IPSECMSS_DRIVER_PRINT_PARAMS") != NULL)
		setenv("IPSECMSS_SYSFS_PARAMS",
		       getenv("IPSECMSS_DRIVER_PRINT_PARAMS"), 1);

	printf("STRUCT ");
	for (i = 0; i < t->size; i++)
		printf("%02x", t->t->data[i]);
	printf("\nPRINT:");
	t->print(fw, t->t, 0);
	printf("\nSAVE:");
	t->save(fw, t->t);
	printf("\n");

	xl = xt_xlate_alloc(10240);
	xl_xlate_set_family(xl, nfproto);
	memset(&xp, 0, sizeof(xp));
	xp.ip = fw;
	xp.target = t->t;
	rc = t->xlate != NULL ? t->xlate(xl, &xp) : -1;
	printf("XLATE %d:%s\n", rc, xt_xlate_get(xl));
	xt_xlate_free(xl);
	free(opts);
	exit(0);
}

/* --------------------------------------------------------------- parent */

struct run {
	int status;		/* exit code, or 128 + signal */
	char out[16384];
	char err[16384];
};

static void slurp(FILE *f, char *buf, size_t size)
{
	size_t n;

	rewind(f);
	n = fread(buf, 1, size - 1, f);
	buf[n] = '\0';
	fclose(f);
}

static void run_child(int family, const char *const *args,
		      enum child_job job, struct run *r)
{
	FILE *fo = tmpfile(), *fe = tmpfile();
	pid_t pid;
	int st;

	if (fo == NULL || fe == NULL) {
		perror("tmpfile");
		exit(2);
	}
	fflush(stdout);
	fflush(stderr);
	pid = fork();
	if (pid < 0) {
		perror("fork");
		exit(2);
	}
	if (pid == 0) {
		dup2(fileno(fo), STDOUT_FILENO);
		dup2(fileno(fe), STDERR_FILENO);
		child_main(family, args, job);
	}
	while (waitpid(pid, &st, 0) < 0)
		if (errno != EINTR) {
			perror("waitpid");
			exit(2);
		}
	r->status = WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
	slurp(fo, r->out, sizeof(r->out));
	slurp(fe, r->err, sizeof(r->err));
}

/* the text after "<tag>" up to the end of its line, or NULL */
static const char *field(const char *out, const char *tag, char *buf,
			 size_t size)
{
	size_t tl = strlen(tag), n;
	const char *p = out;

	while (p != NULL && *p != '\0') {
		if (strncmp(p, tag, tl) == 0) {
			p += tl;
			n = strcspn(p, "\n");
			if (n >= size)
				n = size - 1;
			memcpy(buf, p, n);
			buf[n] = '\0';
			return buf;
		}
		p = strchr(p, '\n');
		if (p != NULL)
			p++;
	}
	return NULL;
}

static unsigned int n_pass, n_fail;

static void __attribute__((format(printf, 3, 4)))
report(int ok, const char *name, const char *why, ...)
{
	va_list ap;

	if (ok) {
		printf("PASS: unit/plugin-%s\n", name);
		n_pass++;
		return;
	}
	printf("FAIL: unit/plugin-%s: ", name);
	va_start(ap, why);
	vprintf(why, ap);
	va_end(ap);
	printf("\n");
	n_fail++;
}

/* the first line of a child's stderr, for messages */
static const char *first_line(const char *s, char *buf, size_t size)
{
	size_t n = strcspn(s, "\n");

	if (n >= size)
		n = size - 1;
	memcpy(buf, s, n);
	buf[n] = '\0';
	return buf;
}

static void args_str(const char *const *args, char *buf, size_t size)
{
	size_t len = 0;
	unsigned int i;

	buf[0] = '\0';
	for (i = 0; args[i] != NULL; i++) {
		int w = snprintf(buf + len, size - len, "%s%s", i ? " " : "",
				 args[i][0] ? args[i] : "''");

		if (w < 0 || (size_t)w >= size - len)
			return;
		len += (size_t)w;
	}
}

static void hex_of(const struct xt_ipsecmss_tginfo *info, char *buf)
{
	const unsigned char *p = (const void *)info;
	size_t i;

	for (i = 0; i < sizeof(*info); i++)
		sprintf(buf + 2 * i, "%02x", p[i]);
}

/* a readable account of where two structs differ */
static void struct_diff(const char *hex, const struct xt_ipsecmss_tginfo *want,
			char *buf, size_t size)
{
	struct xt_ipsecmss_tginfo got;
	unsigned char *p = (void *)&got;
	size_t i, len = 0;

	memset(&got, 0xee, sizeof(got));
	for (i = 0; i < sizeof(got) && hex[2 * i] && hex[2 * i + 1]; i++) {
		unsigned int b;

		if (sscanf(hex + 2 * i, "%2x", &b) != 1)
			break;
		p[i] = (unsigned char)b;
	}
	buf[0] = '\0';
#define DIFF(f)								\
	do {								\
		int w;							\
									\
		if (got.f == want->f || len >= size)			\
			break;						\
		w = snprintf(buf + len, size - len, "%s=%u want %u; ",	\
			     #f, (unsigned int)got.f,			\
			     (unsigned int)want->f);			\
		if (w > 0)						\
			len += (size_t)w;				\
	} while (0)
	DIFF(mode);
	DIFF(suite);
	DIFF(outer);
	DIFF(flags);
	DIFF(mss);
	DIFF(overhead);
	DIFF(mtu);
	DIFF(min_mss);
	DIFF(fallback_mss);
	DIFF(reserved0);
	DIFF(reserved[0]);
	DIFF(reserved[1]);
#undef DIFF
	if (len == 0)
		snprintf(buf, size, "got %s", hex);
}

/* split a save line (" --a 1 --b") into an argument vector */
static unsigned int split(char *line, const char **argv, unsigned int max)
{
	unsigned int n = 0;
	char *tok, *save = NULL;

	for (tok = strtok_r(line, " ", &save); tok != NULL && n < max;
	     tok = strtok_r(NULL, " ", &save))
		argv[n++] = tok;
	argv[n] = NULL;
	return n;
}

/* ------------------------------------------------------------ the cases */

#define NFT_SET(n)							\
	"tcp flags & syn == syn tcp option maxseg size > " #n		\
	" tcp option maxseg size set " #n

struct good {
	const char *name;
	int family;			/* 4 or 6 */
	const char *const *args;
	struct xt_ipsecmss_tginfo want;
	const char *print;		/* as `iptables -L` shows it */
	const char *save;		/* as iptables-save writes it */
	const char *xlate;		/* nft expression; NULL: none exists */
};

static const struct good good[] = {
	{ "v4-set-mss", 4, ARGS("--set-mss", "1360"),
	  { .mode = XT_IPSECMSS_MODE_SET, .mss = 1360 },
	  " IPSECMSS set-mss 1360", " --set-mss 1360", NFT_SET(1360) },
	{ "v6-set-mss", 6, ARGS("--set-mss", "1360"),
	  { .mode = XT_IPSECMSS_MODE_SET, .mss = 1360 },
	  " IPSECMSS set-mss 1360", " --set-mss 1360", NFT_SET(1360) },
	{ "v4-set-mss-1", 4, ARGS("--set-mss", "1"),
	  { .mode = XT_IPSECMSS_MODE_SET, .mss = 1 },
	  " IPSECMSS set-mss 1", " --set-mss 1", NFT_SET(1) },
	{ "v4-set-mss-65495", 4, ARGS("--set-mss", "65495"),
	  { .mode = XT_IPSECMSS_MODE_SET, .mss = 65495 },
	  " IPSECMSS set-mss 65495", " --set-mss 65495", NFT_SET(65495) },
	{ "v4-set-mss-65476", 4, ARGS("--set-mss", "65476"),
	  { .mode = XT_IPSECMSS_MODE_SET, .mss = 65476 },
	  " IPSECMSS set-mss 65476", " --set-mss 65476", NFT_SET(65476) },
	{ "v6-set-mss-65475", 6, ARGS("--set-mss", "65475"),
	  { .mode = XT_IPSECMSS_MODE_SET, .mss = 65475 },
	  " IPSECMSS set-mss 65475", " --set-mss 65475", NFT_SET(65475) },
	{ "v4-set-mss-leading-zero", 4, ARGS("--set-mss", "01360"),
	  { .mode = XT_IPSECMSS_MODE_SET, .mss = 1360 },
	  " IPSECMSS set-mss 1360", " --set-mss 1360", NFT_SET(1360) },

	{ "v4-auto", 4, ARGS("--auto"),
	  { .mode = XT_IPSECMSS_MODE_AUTO },
	  " IPSECMSS auto", " --auto", NULL },
	{ "v6-auto", 6, ARGS("--auto"),
	  { .mode = XT_IPSECMSS_MODE_AUTO },
	  " IPSECMSS auto", " --auto", NULL },
	{ "v6-auto-min-fallback", 6,
	  ARGS("--auto", "--min-mss", "1280", "--fallback-mss", "1220"),
	  { .mode = XT_IPSECMSS_MODE_AUTO, .flags = XT_IPSECMSS_F_FALLBACK,
	    .min_mss = 1280, .fallback_mss = 1220 },
	  " IPSECMSS auto min-mss 1280 fallback-mss 1220",
	  " --auto --min-mss 1280 --fallback-mss 1220", NULL },
	{ "v4-auto-fallback-first", 4,
	  ARGS("--fallback-mss", "1300", "--auto"),
	  { .mode = XT_IPSECMSS_MODE_AUTO, .flags = XT_IPSECMSS_F_FALLBACK,
	    .fallback_mss = 1300 },
	  " IPSECMSS auto fallback-mss 1300", " --auto --fallback-mss 1300",
	  NULL },
	/* --auto --mtu M: a cap on the underlay; M-40 (M-60) >= the floor */
	{ "v4-auto-mtu", 4, ARGS("--auto", "--mtu", "1500"),
	  { .mode = XT_IPSECMSS_MODE_AUTO, .mtu = 1500 },
	  " IPSECMSS auto mtu 1500 (cap)", " --auto --mtu 1500", NULL },
	{ "v6-auto-mtu", 6, ARGS("--auto", "--mtu", "1500"),
	  { .mode = XT_IPSECMSS_MODE_AUTO, .mtu = 1500 },
	  " IPSECMSS auto mtu 1500 (cap)", " --auto --mtu 1500", NULL },
	{ "v4-auto-mtu-576", 4, ARGS("--auto", "--mtu", "576"),
	  { .mode = XT_IPSECMSS_MODE_AUTO, .mtu = 576 },
	  " IPSECMSS auto mtu 576 (cap)", " --auto --mtu 576", NULL },
	{ "v6-auto-mtu-1280", 6, ARGS("--auto", "--mtu", "1280"),
	  { .mode = XT_IPSECMSS_MODE_AUTO, .mtu = 1280 },
	  " IPSECMSS auto mtu 1280 (cap)", " --auto --mtu 1280", NULL },
	{ "v4-auto-mtu-65535", 4, ARGS("--auto", "--mtu", "65535"),
	  { .mode = XT_IPSECMSS_MODE_AUTO, .mtu = 65535 },
	  " IPSECMSS auto mtu 65535 (cap)", " --auto --mtu 65535", NULL },
	{ "v6-auto-mtu-576-min-88", 6,
	  ARGS("--auto", "--mtu", "576", "--min-mss", "88"),
	  { .mode = XT_IPSECMSS_MODE_AUTO, .mtu = 576, .min_mss = 88 },
	  " IPSECMSS auto mtu 576 (cap) min-mss 88",
	  " --auto --mtu 576 --min-mss 88", NULL },
	{ "v6-auto-mtu-everything", 6,
	  ARGS("--mtu", "9000", "--fallback-mss", "1300", "--auto",
	       "--min-mss", "1240"),
	  { .mode = XT_IPSECMSS_MODE_AUTO, .flags = XT_IPSECMSS_F_FALLBACK,
	    .mtu = 9000, .min_mss = 1240, .fallback_mss = 1300 },
	  " IPSECMSS auto mtu 9000 (cap) min-mss 1240 fallback-mss 1300",
	  " --auto --mtu 9000 --min-mss 1240 --fallback-mss 1300", NULL },
	{ "v4-auto-mtu-leading-zero", 4, ARGS("--auto", "--mtu", "01500"),
	  { .mode = XT_IPSECMSS_MODE_AUTO, .mtu = 1500 },
	  " IPSECMSS auto mtu 1500 (cap)", " --auto --mtu 1500", NULL },
	{ "v4-auto-min-88", 4, ARGS("--auto", "--min-mss", "88"),
	  { .mode = XT_IPSECMSS_MODE_AUTO, .min_mss = 88 },
	  " IPSECMSS auto min-mss 88", " --auto --min-mss 88", NULL },
	{ "v4-auto-min-65495", 4, ARGS("--auto", "--min-mss", "65495"),
	  { .mode = XT_IPSECMSS_MODE_AUTO, .min_mss = 65495 },
	  " IPSECMSS auto min-mss 65495", " --auto --min-mss 65495", NULL },

	/* ESP: hdr = 8 + iv (+8 NAT-T) (+outer, tunnel); see the core */
	{ "v6-esp-gcm16-natt-outer6", 6,
	  ARGS("--esp", "aes-gcm-16", "--natt", "--outer", "ipv6",
	       "--mtu", "1500"),
	  { .mode = XT_IPSECMSS_MODE_ESP,
	    .suite = XT_IPSECMSS_SUITE_AES_GCM_16,
	    .outer = XT_IPSECMSS_OUTER_IPV6, .flags = XT_IPSECMSS_F_NATT,
	    .mtu = 1500 },
	  /* (1500-64-16)&~3 = 1420, -2 = 1418, -40-20 = 1358 */
	  " IPSECMSS esp aes-gcm-16 natt outer ipv6 mtu 1500 (mss 1358)",
	  " --esp aes-gcm-16 --natt --outer ipv6 --mtu 1500", NFT_SET(1358) },
	{ "v4-esp-cbc-sha1-natt", 4,
	  ARGS("--esp", "aes-cbc-sha1", "--natt", "--mtu", "1500"),
	  { .mode = XT_IPSECMSS_MODE_ESP,
	    .suite = XT_IPSECMSS_SUITE_AES_CBC_SHA1,
	    .flags = XT_IPSECMSS_F_NATT, .mtu = 1500 },
	  /* (1500-52-12)&~15 = 1424, -2 = 1422, -40 = 1382 */
	  " IPSECMSS esp aes-cbc-sha1 natt mtu 1500 (mss 1382)",
	  " --esp aes-cbc-sha1 --natt --mtu 1500", NFT_SET(1382) },
	{ "v4-esp-cbc-sha256-transport", 4,
	  ARGS("--esp", "aes-cbc-sha256", "--transport", "--mtu", "1400"),
	  { .mode = XT_IPSECMSS_MODE_ESP,
	    .suite = XT_IPSECMSS_SUITE_AES_CBC_SHA256,
	    .flags = XT_IPSECMSS_F_TRANSPORT, .mtu = 1400 },
	  /* (1400-24-16-20)&~15 = 1328, +20-2 = 1346, -40 = 1306 */
	  " IPSECMSS esp aes-cbc-sha256 transport mtu 1400 (mss 1306)",
	  " --esp aes-cbc-sha256 --transport --mtu 1400", NFT_SET(1306) },
	{ "v4-esp-chacha-outer6", 4,
	  ARGS("--esp", "chacha20-poly1305", "--outer", "ipv6",
	       "--mtu", "1500"),
	  { .mode = XT_IPSECMSS_MODE_ESP,
	    .suite = XT_IPSECMSS_SUITE_CHACHA20_POLY1305,
	    .outer = XT_IPSECMSS_OUTER_IPV6, .mtu = 1500 },
	  /* (1500-56-16)&~3 = 1428, -2 = 1426, -40 = 1386 */
	  " IPSECMSS esp chacha20-poly1305 outer ipv6 mtu 1500 (mss 1386)",
	  " --esp chacha20-poly1305 --outer ipv6 --mtu 1500", NFT_SET(1386) },
	{ "v6-esp-3des-outer4-1280-min1000", 6,
	  ARGS("--esp", "3des-cbc-sha1", "--outer", "ipv4", "--mtu", "1280",
	       "--min-mss", "1000"),
	  { .mode = XT_IPSECMSS_MODE_ESP,
	    .suite = XT_IPSECMSS_SUITE_3DES_CBC_SHA1,
	    .outer = XT_IPSECMSS_OUTER_IPV4, .mtu = 1280, .min_mss = 1000 },
	  /* (1280-36-12)&~7 = 1232, -2 = 1230, -60 = 1170 */
	  " IPSECMSS esp 3des-cbc-sha1 outer ipv4 mtu 1280 (mss 1170) min-mss 1000",
	  " --esp 3des-cbc-sha1 --outer ipv4 --mtu 1280 --min-mss 1000",
	  NFT_SET(1170) },
	{ "v6-esp-sha512-everything", 6,
	  ARGS("--esp", "aes-cbc-sha512", "--natt", "--outer", "ipv6",
	       "--transport", "--mtu", "9000"),
	  { .mode = XT_IPSECMSS_MODE_ESP,
	    .suite = XT_IPSECMSS_SUITE_AES_CBC_SHA512,
	    .outer = XT_IPSECMSS_OUTER_IPV6,
	    .flags = XT_IPSECMSS_F_NATT | XT_IPSECMSS_F_TRANSPORT,
	    .mtu = 9000 },
	  /* (9000-32-32-40)&~15 = 8896, +40-2 = 8934, -60 = 8874 */
	  " IPSECMSS esp aes-cbc-sha512 natt outer ipv6 transport mtu 9000 (mss 8874)",
	  " --esp aes-cbc-sha512 --natt --outer ipv6 --transport --mtu 9000",
	  NFT_SET(8874) },
	{ "v4-esp-gcm16-mtu576-min400", 4,
	  ARGS("--esp", "aes-gcm-16", "--mtu", "576", "--min-mss", "400"),
	  { .mode = XT_IPSECMSS_MODE_ESP,
	    .suite = XT_IPSECMSS_SUITE_AES_GCM_16, .mtu = 576,
	    .min_mss = 400 },
	  /* (576-36-16)&~3 = 524, -2 = 522, -40 = 482 */
	  " IPSECMSS esp aes-gcm-16 mtu 576 (mss 482) min-mss 400",
	  " --esp aes-gcm-16 --mtu 576 --min-mss 400", NFT_SET(482) },
	{ "v4-esp-gcm16-mtu632", 4,
	  ARGS("--esp", "aes-gcm-16", "--mtu", "632"),
	  { .mode = XT_IPSECMSS_MODE_ESP,
	    .suite = XT_IPSECMSS_SUITE_AES_GCM_16, .mtu = 632 },
	  /* (632-52)&~3 = 580, -2-40 = 538: the first above the 536 floor */
	  " IPSECMSS esp aes-gcm-16 mtu 632 (mss 538)",
	  " --esp aes-gcm-16 --mtu 632", NFT_SET(538) },
	{ "v4-esp-gcm16-mtu65535", 4,
	  ARGS("--esp", "aes-gcm-16", "--mtu", "65535"),
	  { .mode = XT_IPSECMSS_MODE_ESP,
	    .suite = XT_IPSECMSS_SUITE_AES_GCM_16, .mtu = 65535 },
	  /* (65535-52)&~3 = 65480, -2-40 = 65438 */
	  " IPSECMSS esp aes-gcm-16 mtu 65535 (mss 65438)",
	  " --esp aes-gcm-16 --mtu 65535", NFT_SET(65438) },
	{ "v4-esp-mtu-first", 4,
	  ARGS("--mtu", "1500", "--esp", "aes-gcm-16"),
	  { .mode = XT_IPSECMSS_MODE_ESP,
	    .suite = XT_IPSECMSS_SUITE_AES_GCM_16, .mtu = 1500 },
	  " IPSECMSS esp aes-gcm-16 mtu 1500 (mss 1406)",
	  " --esp aes-gcm-16 --mtu 1500", NFT_SET(1406) },
	{ "v6-esp-outer6-explicit", 6,
	  ARGS("--esp", "aes-gcm-16", "--outer", "ipv6", "--mtu", "1500"),
	  { .mode = XT_IPSECMSS_MODE_ESP,
	    .suite = XT_IPSECMSS_SUITE_AES_GCM_16,
	    .outer = XT_IPSECMSS_OUTER_IPV6, .mtu = 1500 },
	  " IPSECMSS esp aes-gcm-16 outer ipv6 mtu 1500 (mss 1366)",
	  " --esp aes-gcm-16 --outer ipv6 --mtu 1500", NFT_SET(1366) },
	{ "v4-esp-gcm8-route-min600", 4,
	  ARGS("--esp", "aes-gcm-8", "--min-mss", "600"),
	  { .mode = XT_IPSECMSS_MODE_ESP,
	    .suite = XT_IPSECMSS_SUITE_AES_GCM_8, .min_mss = 600 },
	  " IPSECMSS esp aes-gcm-8 min-mss 600",
	  " --esp aes-gcm-8 --min-mss 600", NULL },
	{ "v4-esp-ccm12-outer4-route", 4,
	  ARGS("--esp", "aes-ccm-12", "--outer", "ipv4"),
	  { .mode = XT_IPSECMSS_MODE_ESP,
	    .suite = XT_IPSECMSS_SUITE_AES_CCM_12,
	    .outer = XT_IPSECMSS_OUTER_IPV4 },
	  " IPSECMSS esp aes-ccm-12 outer ipv4", " --esp aes-ccm-12 --outer ipv4",
	  NULL },
	{ "v6-esp-transport-natt-route", 6,
	  ARGS("--esp", "aes-gmac", "--transport", "--natt"),
	  { .mode = XT_IPSECMSS_MODE_ESP,
	    .suite = XT_IPSECMSS_SUITE_AES_GMAC,
	    .flags = XT_IPSECMSS_F_NATT | XT_IPSECMSS_F_TRANSPORT },
	  " IPSECMSS esp aes-gmac natt transport",
	  " --esp aes-gmac --natt --transport", NULL },

	/* overhead: MSS = MTU - overhead - IP - TCP */
	{ "v4-overhead-mtu", 4, ARGS("--overhead", "73", "--mtu", "1500"),
	  { .mode = XT_IPSECMSS_MODE_OVERHEAD, .overhead = 73, .mtu = 1500 },
	  " IPSECMSS overhead 73 mtu 1500 (mss 1387)",
	  " --overhead 73 --mtu 1500", NFT_SET(1387) },
	{ "v6-overhead-mtu-min", 6,
	  ARGS("--overhead", "100", "--mtu", "1400", "--min-mss", "1220"),
	  { .mode = XT_IPSECMSS_MODE_OVERHEAD, .overhead = 100, .mtu = 1400,
	    .min_mss = 1220 },
	  " IPSECMSS overhead 100 mtu 1400 (mss 1240) min-mss 1220",
	  " --overhead 100 --mtu 1400 --min-mss 1220", NFT_SET(1240) },
	{ "v6-overhead-at-floor", 6, ARGS("--overhead", "220", "--mtu", "1500"),
	  { .mode = XT_IPSECMSS_MODE_OVERHEAD, .overhead = 220, .mtu = 1500 },
	  /* 1500-220-60 = 1220, exactly the IPv6 default floor */
	  " IPSECMSS overhead 220 mtu 1500 (mss 1220)",
	  " --overhead 220 --mtu 1500", NFT_SET(1220) },
	{ "v4-overhead-route", 4, ARGS("--overhead", "58"),
	  { .mode = XT_IPSECMSS_MODE_OVERHEAD, .overhead = 58 },
	  " IPSECMSS overhead 58", " --overhead 58", NULL },
	{ "v4-overhead-65535", 4, ARGS("--overhead", "65535"),
	  { .mode = XT_IPSECMSS_MODE_OVERHEAD, .overhead = 65535 },
	  " IPSECMSS overhead 65535", " --overhead 65535", NULL },
	{ "v6-overhead-route-min", 6,
	  ARGS("--overhead", "1", "--min-mss", "1300"),
	  { .mode = XT_IPSECMSS_MODE_OVERHEAD, .overhead = 1, .min_mss = 1300 },
	  " IPSECMSS overhead 1 min-mss 1300", " --overhead 1 --min-mss 1300",
	  NULL },
};

/*
 * Every suite, by its ABI number, with the MSS of a tunnel-mode SA over a
 * 1500 MTU: IPv4 in IPv4 and IPv6 in IPv6 (worked out by hand, e.g.
 * aes-cbc-sha384 v4: hdr 8+16+20 = 44, (1500-44-24)&~15 = 1424, -2 = 1422,
 * -40 = 1382).
 */
static const struct suite {
	const char *name;
	unsigned int id;
	unsigned int mss4, mss6;
} suites[] = {
	{ "aes-gcm-8", XT_IPSECMSS_SUITE_AES_GCM_8, 1414, 1374 },
	{ "aes-gcm-12", XT_IPSECMSS_SUITE_AES_GCM_12, 1410, 1370 },
	{ "aes-gcm-16", XT_IPSECMSS_SUITE_AES_GCM_16, 1406, 1366 },
	{ "chacha20-poly1305", XT_IPSECMSS_SUITE_CHACHA20_POLY1305,
	  1406, 1366 },
	{ "aes-cbc-sha1", XT_IPSECMSS_SUITE_AES_CBC_SHA1, 1398, 1362 },
	{ "aes-cbc-sha256", XT_IPSECMSS_SUITE_AES_CBC_SHA256, 1398, 1346 },
	{ "aes-cbc-sha384", XT_IPSECMSS_SUITE_AES_CBC_SHA384, 1382, 1346 },
	{ "aes-cbc-sha512", XT_IPSECMSS_SUITE_AES_CBC_SHA512, 1382, 1330 },
	{ "aes-ccm-8", XT_IPSECMSS_SUITE_AES_CCM_8, 1414, 1374 },
	{ "aes-ccm-12", XT_IPSECMSS_SUITE_AES_CCM_12, 1410, 1370 },
	{ "aes-ccm-16", XT_IPSECMSS_SUITE_AES_CCM_16, 1406, 1366 },
	{ "aes-gmac", XT_IPSECMSS_SUITE_AES_GMAC, 1406, 1366 },
	{ "aes-ctr-sha256", XT_IPSECMSS_SUITE_AES_CTR_SHA256, 1406, 1366 },
	{ "3des-cbc-sha1", XT_IPSECMSS_SUITE_3DES_CBC_SHA1, 1406, 1370 },
	{ "null-sha256", XT_IPSECMSS_SUITE_NULL_SHA256, 1414, 1374 },
};

struct bad {
	const char *name;
	int family;			/* 4, 6, or 0 for both */
	const char *const *args;
	const char *words[4];		/* all must be in the message */
};

static const struct bad bad[] = {
	{ "no-mode", 0, NOARGS,
	  { "IPSECMSS: no mode given: use --set-mss, --auto, --esp or --overhead" } },
	{ "no-mode-natt", 0, ARGS("--natt"), { "no mode given" } },
	{ "no-mode-min-mss", 0, ARGS("--min-mss", "600"), { "no mode given" } },
	{ "no-mode-mtu", 4, ARGS("--mtu", "1500"), { "no mode given" } },
	{ "two-modes-set-auto", 0, ARGS("--set-mss", "1360", "--auto"),
	  { "--set-mss and --auto", "exactly one" } },
	{ "two-modes-esp-overhead", 0,
	  ARGS("--esp", "aes-gcm-16", "--overhead", "50"),
	  { "--overhead and --esp", "exactly one" } },
	{ "two-modes-auto-esp", 4, ARGS("--auto", "--esp", "aes-gcm-16"),
	  { "--auto and --esp", "exactly one" } },
	{ "set-mss-twice", 4, ARGS("--set-mss", "1360", "--set-mss", "1400"),
	  { "IPSECMSS", "--set-mss", "only be used once" } },
	{ "auto-twice", 4, ARGS("--auto", "--auto"),
	  { "IPSECMSS", "--auto", "only be used once" } },
	{ "esp-twice", 6,
	  ARGS("--esp", "aes-gcm-16", "--esp", "aes-gcm-8"),
	  { "IPSECMSS", "--esp", "only be used once" } },

	{ "set-mss-0-v4", 4, ARGS("--set-mss", "0"),
	  { "--set-mss 0 is out of range 1-65495 for IPv4" } },
	{ "set-mss-0-v6", 6, ARGS("--set-mss", "0"),
	  { "--set-mss 0 is out of range 1-65475 for IPv6" } },
	{ "set-mss-65496-v4", 4, ARGS("--set-mss", "65496"),
	  { "--set-mss 65496 is out of range 1-65495" } },
	{ "set-mss-65476-v6", 6, ARGS("--set-mss", "65476"),
	  { "--set-mss 65476 is out of range 1-65475" } },
	{ "set-mss-65536", 0, ARGS("--set-mss", "65536"), { "out of range" } },
	{ "set-mss-huge", 0, ARGS("--set-mss", "99999999999999999999999"),
	  { "--set-mss 99999999999999999999999 is out of range" } },
	{ "set-mss-abc", 0, ARGS("--set-mss", "abc"),
	  { "--set-mss \"abc\" is not a number" } },
	{ "set-mss-negative", 0, ARGS("--set-mss", "-5"),
	  { "--set-mss -5 is negative" } },
	{ "set-mss-empty", 4, ARGS("--set-mss", ""),
	  { "--set-mss needs a number", "empty" } },
	{ "set-mss-trailing-junk", 4, ARGS("--set-mss", "1360x"),
	  { "\"1360x\" is not a number" } },
	{ "set-mss-hex", 4, ARGS("--set-mss", "0x550"),
	  { "\"0x550\" is not a number" } },
	{ "set-mss-space", 4, ARGS("--set-mss", " 1360"), { "not a number" } },
	{ "set-mss-plus", 4, ARGS("--set-mss", "+1360"), { "not a number" } },

	{ "esp-unknown", 0, ARGS("--esp", "foo"),
	  { "IPSECMSS: unknown ESP suite \"foo\"; known: aes-gcm-8, aes-gcm-12",
	    "chacha20-poly1305", "null-sha256" } },
	{ "esp-uppercase", 4, ARGS("--esp", "AES-GCM-16"),
	  { "unknown ESP suite \"AES-GCM-16\"" } },
	{ "esp-empty", 4, ARGS("--esp", ""), { "unknown ESP suite \"\"" } },
	{ "natt-with-auto", 0, ARGS("--auto", "--natt"),
	  { "--natt only goes with --esp" } },
	{ "natt-with-overhead", 4, ARGS("--overhead", "50", "--natt"),
	  { "--natt only goes with --esp" } },
	{ "outer-with-overhead", 4, ARGS("--overhead", "50", "--outer", "ipv4"),
	  { "--outer only goes with --esp" } },
	{ "transport-with-set-mss", 6,
	  ARGS("--set-mss", "1360", "--transport"),
	  { "--transport only goes with --esp" } },
	{ "outer-bad", 0, ARGS("--esp", "aes-gcm-16", "--outer", "ipv5"),
	  { "--outer takes ipv4 or ipv6, not \"ipv5\"" } },
	{ "outer-4", 4, ARGS("--esp", "aes-gcm-16", "--outer", "4"),
	  { "--outer takes ipv4 or ipv6" } },
	{ "transport-foreign-outer-v4", 4,
	  ARGS("--esp", "aes-gcm-16", "--transport", "--outer", "ipv6"),
	  { "--outer ipv6 does not go with --transport", "IPv4 rule" } },
	{ "transport-foreign-outer-v6", 6,
	  ARGS("--esp", "aes-gcm-16", "--transport", "--outer", "ipv4"),
	  { "--outer ipv4 does not go with --transport", "IPv6 rule" } },

	{ "mtu-with-set-mss", 0, ARGS("--set-mss", "1360", "--mtu", "1500"),
	  { "--mtu only goes with --auto, --esp or --overhead",
	    "not with --set-mss" } },
	{ "mtu-first-with-set-mss", 4,
	  ARGS("--mtu", "1500", "--set-mss", "1360"),
	  { "--mtu only goes with --auto, --esp or --overhead" } },
	{ "mtu-alone", 0, ARGS("--mtu", "1500"), { "no mode given" } },
	/* --auto --mtu: the range, and a cap the floor would undo */
	{ "auto-mtu-575", 0, ARGS("--auto", "--mtu", "575"),
	  { "--mtu 575 is out of range 576-65535" } },
	{ "auto-mtu-0", 4, ARGS("--auto", "--mtu", "0"),
	  { "--mtu 0 is out of range 576-65535" } },
	{ "auto-mtu-65536", 0, ARGS("--auto", "--mtu", "65536"),
	  { "--mtu 65536 is out of range 576-65535" } },
	{ "auto-mtu-negative", 6, ARGS("--auto", "--mtu", "-1500"),
	  { "--mtu -1500 is negative; it takes 576-65535" } },
	{ "auto-mtu-abc", 4, ARGS("--auto", "--mtu", "jumbo"),
	  { "--mtu \"jumbo\" is not a number; it takes 576-65535" } },
	{ "auto-mtu-empty", 6, ARGS("--auto", "--mtu", ""),
	  { "--mtu needs a number (576-65535)", "empty" } },
	{ "auto-mtu-twice", 4,
	  ARGS("--auto", "--mtu", "1500", "--mtu", "1400"),
	  { "IPSECMSS", "--mtu", "only be used once" } },
	{ "auto-mtu-natt", 0, ARGS("--auto", "--mtu", "1500", "--natt"),
	  { "--natt only goes with --esp" } },
	/* 1279-60 = 1219 < 1220 */
	{ "auto-mtu-1279-v6", 6, ARGS("--auto", "--mtu", "1279"),
	  { "--auto --mtu 1279 caps the underlay", "no MSS above 1219",
	    "below the floor 1220", "min_mss_ipv6" } },
	/* 576-40 = 536 < 537 */
	{ "auto-mtu-576-min-537-v4", 4,
	  ARGS("--auto", "--mtu", "576", "--min-mss", "537"),
	  { "no MSS above 536", "below the floor 537 (--min-mss)",
	    "or a --min-mss of at most that MSS" } },
	{ "mtu-575", 0, ARGS("--esp", "aes-gcm-16", "--mtu", "575"),
	  { "--mtu 575 is out of range 576-65535" } },
	{ "mtu-0", 4, ARGS("--overhead", "50", "--mtu", "0"),
	  { "--mtu 0 is out of range 576-65535" } },
	{ "mtu-65536", 4, ARGS("--esp", "aes-gcm-16", "--mtu", "65536"),
	  { "--mtu 65536 is out of range 576-65535" } },
	{ "mtu-negative", 4, ARGS("--esp", "aes-gcm-16", "--mtu", "-1500"),
	  { "--mtu -1500 is negative" } },
	{ "mtu-abc", 4, ARGS("--esp", "aes-gcm-16", "--mtu", "jumbo"),
	  { "--mtu \"jumbo\" is not a number" } },
	/* (600-52)&~3 = 548, -2-40 = 506 < 536 */
	{ "esp-mtu-600-v4", 4, ARGS("--esp", "aes-gcm-16", "--mtu", "600"),
	  { "--mtu 600 is too small for --esp aes-gcm-16", "MSS 506",
	    "below the floor 536", "min_mss_ipv4" } },
	/* (631-52)&~3 = 576, -2-40 = 534 < 536 */
	{ "esp-mtu-631-v4", 4, ARGS("--esp", "aes-gcm-16", "--mtu", "631"),
	  { "--mtu 631 is too small", "MSS 534", "floor 536" } },
	/* (1280-72)&~3 = 1208, -2-60 = 1146 < 1220 */
	{ "esp-mtu-1280-v6", 6, ARGS("--esp", "aes-gcm-16", "--mtu", "1280"),
	  { "--mtu 1280 is too small", "MSS 1146", "floor 1220",
	    "min_mss_ipv6" } },
	/* 1170 (see the good table) < the IPv6 default floor 1220 */
	{ "esp-3des-outer4-1280-v6", 6,
	  ARGS("--esp", "3des-cbc-sha1", "--outer", "ipv4", "--mtu", "1280"),
	  { "--mtu 1280 is too small", "IPv4 outer", "MSS 1170",
	    "floor 1220" } },
	{ "esp-min-mss-above", 4,
	  ARGS("--esp", "aes-gcm-16", "--mtu", "1500", "--min-mss", "1407"),
	  { "MSS 1406", "below the floor 1407 (--min-mss)" } },
	{ "overhead-eats-mtu", 0, ARGS("--overhead", "1500", "--mtu", "1500"),
	  { "--mtu 1500 is too small for --overhead 1500",
	    "not even one byte" } },
	/* 1500-1460-20 = 20 bytes: room for the IPv4 and TCP headers only */
	{ "overhead-no-payload-v4", 4,
	  ARGS("--overhead", "1460", "--mtu", "1500"),
	  { "too small for --overhead 1460", "not even one byte" } },
	{ "overhead-mss-60-v4", 4, ARGS("--overhead", "1400", "--mtu", "1500"),
	  { "MSS 60", "below the floor 536" } },
	/* 1500-221-60 = 1219 < 1220 */
	{ "overhead-221-v6", 6, ARGS("--overhead", "221", "--mtu", "1500"),
	  { "MSS 1219", "below the floor 1220" } },
	{ "overhead-0", 0, ARGS("--overhead", "0"),
	  { "--overhead 0 is out of range 1-65535" } },
	{ "overhead-65536", 4, ARGS("--overhead", "65536"),
	  { "--overhead 65536 is out of range 1-65535" } },
	{ "overhead-negative", 4, ARGS("--overhead", "-1"),
	  { "--overhead -1 is negative" } },
	{ "overhead-abc", 4, ARGS("--overhead", "lots"),
	  { "--overhead \"lots\" is not a number" } },

	{ "min-mss-with-set-mss", 0,
	  ARGS("--set-mss", "1360", "--min-mss", "600"),
	  { "--min-mss only goes with a derived mode", "--set-mss" } },
	{ "min-mss-87", 0, ARGS("--auto", "--min-mss", "87"),
	  { "--min-mss 87 is out of range 88-" } },
	{ "min-mss-0", 4, ARGS("--auto", "--min-mss", "0"),
	  { "--min-mss 0 is out of range 88-65495" } },
	{ "min-mss-65496-v4", 4, ARGS("--esp", "aes-gcm-16", "--min-mss", "65496"),
	  { "--min-mss 65496 is out of range 88-65495 for IPv4" } },
	{ "min-mss-65476-v6", 6, ARGS("--overhead", "8", "--min-mss", "65476"),
	  { "--min-mss 65476 is out of range 88-65475 for IPv6" } },
	{ "min-mss-negative", 4, ARGS("--auto", "--min-mss", "-600"),
	  { "--min-mss -600 is negative" } },
	{ "fallback-with-esp", 0,
	  ARGS("--esp", "aes-gcm-16", "--fallback-mss", "1300"),
	  { "--fallback-mss only goes with --auto", "--esp" } },
	{ "fallback-with-set-mss", 4,
	  ARGS("--set-mss", "1360", "--fallback-mss", "1300"),
	  { "--fallback-mss only goes with --auto" } },
	{ "fallback-with-overhead", 6,
	  ARGS("--overhead", "50", "--fallback-mss", "1300"),
	  { "--fallback-mss only goes with --auto" } },
	{ "fallback-0", 0, ARGS("--auto", "--fallback-mss", "0"),
	  { "--fallback-mss 0 is out of range 1-" } },
	{ "fallback-65476-v6", 6, ARGS("--auto", "--fallback-mss", "65476"),
	  { "--fallback-mss 65476 is out of range 1-65475" } },
	{ "fallback-abc", 4, ARGS("--auto", "--fallback-mss", "none"),
	  { "--fallback-mss \"none\" is not a number" } },
};

/* --------------------------------------------------------------- checks */

static void check_meta(int family)
{
	const char *want_lib = getenv("IPSECMSS_PLUGIN");
	char name[64], buf[512], want[128], line[256];
	struct run r;

	run_child(family, ARGS("--set-mss", "1360"), JOB_PARSE, &r);

	snprintf(name, sizeof(name), "v%d-load", family);
	report(r.status == 0, name, "status %d: %s", r.status,
	       first_line(r.err, line, sizeof(line)));

	snprintf(name, sizeof(name), "v%d-registration", family);
	snprintf(want, sizeof(want),
		 "family=%u revision=0 size=24 userspacesize=24",
		 family == 6 ? NFPROTO_IPV6 : NFPROTO_IPV4);
	if (field(r.out, "META ", buf, sizeof(buf)) == NULL)
		report(0, name, "no META line");
	else
		report(strcmp(buf, want) == 0, name, "got \"%s\", want \"%s\"",
		       buf, want);

	snprintf(name, sizeof(name), "v%d-loaded-fresh-build", family);
	if (field(r.out, "LIB ", buf, sizeof(buf)) == NULL)
		report(0, name, "no LIB line");
	else if (want_lib == NULL)
		report(0, name, "IPSECMSS_PLUGIN not set");
	else
		report(strcmp(buf, want_lib) == 0, name,
		       "loaded \"%s\", not \"%s\"", buf, want_lib);
}

static void check_help(int family)
{
	static const char *const words[] = {
		"--set-mss", "--auto", "--esp", "--overhead", "--natt",
		"--outer", "ipv4|ipv6", "--transport", "--mtu", "--min-mss",
		"--fallback-mss", "a cap (576-65535) on the underlay MTU",
	};
	const char *missing = NULL;
	char name[64];
	struct run r;
	unsigned int i;

	run_child(family, NOARGS, JOB_HELP, &r);
	for (i = 0; i < ARRAY_SIZE(words); i++)
		if (strstr(r.out, words[i]) == NULL)
			missing = words[i];
	for (i = 0; i < ARRAY_SIZE(suites); i++)
		if (strstr(r.out, suites[i].name) == NULL)
			missing = suites[i].name;
	if (strstr(r.out, family == 6 ? "1-65475" : "1-65495") == NULL)
		missing = family == 6 ? "1-65475" : "1-65495";
	snprintf(name, sizeof(name), "v%d-help", family);
	if (r.status != 0) {
		char line[256];

		report(0, name, "status %d: %s", r.status,
		       first_line(r.err, line, sizeof(line)));
	} else {
		report(missing == NULL, name, "help does not mention %s",
		       missing);
	}
}

static void check_good(const struct good *g)
{
	char name[160], buf[1024], hex[2 * sizeof(struct xt_ipsecmss_tginfo) + 1];
	char why[512], line[512], args[512], save[1024];
	const char *argv2[MAXARGS + 1];
	const char *s;
	struct run r, r2;
	int rc;

	args_str(g->args, args, sizeof(args));
	hex_of(&g->want, hex);
	run_child(g->family, g->args, JOB_PARSE, &r);

	snprintf(name, sizeof(name), "%s-parse", g->name);
	if (r.status != 0 || field(r.out, "STRUCT ", buf, sizeof(buf)) == NULL) {
		report(0, name, "\"%s\" refused (status %d): %s", args,
		       r.status, first_line(r.err, line, sizeof(line)));
		return;
	}
	report(1, name, " ");

	snprintf(name, sizeof(name), "%s-struct", g->name);
	struct_diff(buf, &g->want, why, sizeof(why));
	report(strcmp(buf, hex) == 0, name, "%s", why);

	snprintf(name, sizeof(name), "%s-print", g->name);
	s = field(r.out, "PRINT:", buf, sizeof(buf));
	report(s != NULL && strcmp(s, g->print) == 0, name,
	       "got \"%s\", want \"%s\"", s ? s : "(none)", g->print);

	snprintf(name, sizeof(name), "%s-save", g->name);
	s = field(r.out, "SAVE:", save, sizeof(save));
	report(s != NULL && strcmp(s, g->save) == 0, name,
	       "got \"%s\", want \"%s\"", s ? s : "(none)", g->save);

	snprintf(name, sizeof(name), "%s-xlate", g->name);
	s = field(r.out, "XLATE ", buf, sizeof(buf));
	if (s == NULL || sscanf(s, "%d:", &rc) != 1) {
		report(0, name, "no XLATE line");
	} else if (g->xlate != NULL) {
		const char *text = strchr(s, ':') + 1;

		report(rc == 1 && strcmp(text, g->xlate) == 0, name,
		       "returned %d, \"%s\", want \"%s\"", rc, text, g->xlate);
	} else {
		report(rc == 0 && strstr(r.err, "no nftables equivalent") &&
		       strstr(r.err, "IPSECMSS"), name,
		       "returned %d, stderr \"%s\", want 0 and a statement that there is no nftables equivalent",
		       rc, first_line(r.err, line, sizeof(line)));
	}

	/* what iptables-save wrote must give back the very same rule */
	snprintf(name, sizeof(name), "%s-roundtrip", g->name);
	if (field(r.out, "SAVE:", save, sizeof(save)) == NULL) {
		report(0, name, "nothing saved");
		return;
	}
	split(save, argv2, MAXARGS);
	run_child(g->family, argv2, JOB_PARSE, &r2);
	if (r2.status != 0 ||
	    field(r2.out, "STRUCT ", buf, sizeof(buf)) == NULL) {
		report(0, name, "saved form refused (status %d): %s",
		       r2.status, first_line(r2.err, line, sizeof(line)));
		return;
	}
	struct_diff(buf, &g->want, why, sizeof(why));
	if (strcmp(buf, hex) != 0) {
		report(0, name, "reparsed struct differs: %s", why);
		return;
	}
	field(r.out, "SAVE:", save, sizeof(save));
	s = field(r2.out, "SAVE:", buf, sizeof(buf));
	report(s != NULL && strcmp(s, save) == 0, name,
	       "saved again as \"%s\", first \"%s\"", s ? s : "(none)", save);
}

static void check_bad(const struct bad *b, int family)
{
	char name[160], args[512], line[512];
	const char *missing = NULL;
	unsigned int i;
	struct run r;

	args_str(b->args, args, sizeof(args));
	if (b->family == 0)
		snprintf(name, sizeof(name), "refuse-%s-v%d", b->name, family);
	else
		snprintf(name, sizeof(name), "refuse-%s", b->name);
	run_child(family, b->args, JOB_PARSE, &r);

	if (r.status == 0) {
		report(0, name, "\"%s\" was accepted", args);
		return;
	}
	if (r.status != PARAMETER_PROBLEM) {
		report(0, name, "\"%s\" ended with status %d, want %d: %s",
		       args, r.status, PARAMETER_PROBLEM,
		       first_line(r.err, line, sizeof(line)));
		return;
	}
	if (strstr(r.err, "error: IPSECMSS") == NULL)
		missing = "IPSECMSS";
	for (i = 0; i < 4 && b->words[i] != NULL; i++)
		if (strstr(r.err, b->words[i]) == NULL)
			missing = b->words[i];
	report(missing == NULL && strstr(r.out, "STRUCT ") == NULL, name,
	       "\"%s\": message \"%s\" lacks \"%s\"", args,
	       first_line(r.err, line, sizeof(line)),
	       missing ? missing : "(got as far as a struct)");
}

static void check_suites(int family)
{
	unsigned int i;

	for (i = 0; i < ARRAY_SIZE(suites); i++) {
		const struct suite *s = &suites[i];
		unsigned int mss = family == 6 ? s->mss6 : s->mss4;
		char name[96], print[160], save[160], xlate[160];
		struct good g = {
			.name = name,
			.family = family,
			.args = ARGS("--esp", s->name, "--mtu", "1500"),
			.want = { .mode = XT_IPSECMSS_MODE_ESP,
				  .suite = (__u8)s->id, .mtu = 1500 },
			.print = print,
			.save = save,
			.xlate = xlate,
		};

		snprintf(name, sizeof(name), "v%d-suite-%s-1500", family,
			 s->name);
		snprintf(print, sizeof(print),
			 " IPSECMSS esp %s mtu 1500 (mss %u)", s->name, mss);
		snprintf(save, sizeof(save), " --esp %s --mtu 1500", s->name);
		snprintf(xlate, sizeof(xlate),
			 "tcp flags & syn == syn tcp option maxseg size > %u tcp option maxseg size set %u",
			 mss, mss);
		check_good(&g);
	}
}

/* ---------------------------------------------------- the live floor */

/*
 * The plugin reads the floor from the module's parameter files; here
 * IPSECMSS_SYSFS_PARAMS points it at directories made for each case.
 * Every expected number is written out by hand: (mtu-36-16)&~3 - 2 - 40
 * for aes-gcm-16 in IPv4, (mtu-56-16)&~3 - 2 - 60 in IPv6.
 */
static char floor_tmp[256];
static char no_module[300];	/* a directory that does not exist */

static void write_file(const char *dir, const char *name, const char *text)
{
	char path[600];
	FILE *f;

	snprintf(path, sizeof(path), "%s/%s", dir, name);
	f = fopen(path, "w");
	if (f == NULL || fputs(text, f) < 0 || fclose(f) != 0) {
		perror(path);
		exit(2);
	}
}

/* a parameter directory holding @v4 and @v6 (NULL: no such file) */
static const char *param_dir(const char *name, const char *v4,
			     const char *v6)
{
	static char dirs[64][320];
	static unsigned int n;
	char *d = dirs[n++ % ARRAY_SIZE(dirs)];

	snprintf(d, sizeof(dirs[0]), "%s/%s", floor_tmp, name);
	if (mkdir(d, 0700) != 0 && errno != EEXIST) {
		perror(d);
		exit(2);
	}
	if (v4 != NULL)
		write_file(d, "min_mss_ipv4", v4);
	if (v6 != NULL)
		write_file(d, "min_mss_ipv6", v6);
	return d;
}

/* run a case with the parameters in @dir (NULL: the variable unset) */
static void run_params(const char *dir, const char *print_dir, int family,
		       const char *const *args, enum child_job job,
		       struct run *r)
{
	if (dir != NULL)
		setenv("IPSECMSS_SYSFS_PARAMS", dir, 1);
	else
		unsetenv("IPSECMSS_SYSFS_PARAMS");
	if (print_dir != NULL)
		setenv("IPSECMSS_DRIVER_PRINT_PARAMS", print_dir, 1);
	run_child(family, args, job, r);
	unsetenv("IPSECMSS_DRIVER_PRINT_PARAMS");
	setenv("IPSECMSS_SYSFS_PARAMS", no_module, 1);
}

/* refused, and the message holds every one of @words */
static void floor_refused(const char *name, const char *dir, int family,
			  const char *const *args, const char *const *words)
{
	char line[1024], a[512];
	const char *missing = NULL;
	unsigned int i;
	struct run r;

	args_str(args, a, sizeof(a));
	run_params(dir, NULL, family, args, JOB_PARSE, &r);
	if (r.status != PARAMETER_PROBLEM) {
		report(0, name, "\"%s\" ended with status %d, want %d: %s", a,
		       r.status, PARAMETER_PROBLEM,
		       first_line(r.err, line, sizeof(line)));
		return;
	}
	for (i = 0; words[i] != NULL; i++)
		if (strstr(r.err, words[i]) == NULL)
			missing = words[i];
	report(missing == NULL, name, "\"%s\": message \"%s\" lacks \"%s\"",
	       a, first_line(r.err, line, sizeof(line)), missing);
}

/* accepted (parameters @dir), and printed as @print (parameters @pdir) */
static void floor_printed(const char *name, const char *dir,
			  const char *pdir, int family,
			  const char *const *args, const char *print)
{
	char line[1024], buf[1024], a[512];
	const char *p;
	struct run r;

	args_str(args, a, sizeof(a));
	run_params(dir, pdir, family, args, JOB_PARSE, &r);
	if (r.status != 0) {
		report(0, name, "\"%s\" refused (status %d): %s", a, r.status,
		       first_line(r.err, line, sizeof(line)));
		return;
	}
	p = field(r.out, "PRINT:", buf, sizeof(buf));
	report(p != NULL && strcmp(p, print) == 0, name,
	       "\"%s\" printed \"%s\", want \"%s\"", a, p ? p : "(none)",
	       print);
}

static void floor_help(const char *name, const char *dir, int family,
		       const char *const *words)
{
	const char *missing = NULL;
	unsigned int i;
	struct run r;

	run_params(dir, NULL, family, NOARGS, JOB_HELP, &r);
	for (i = 0; words[i] != NULL; i++)
		if (strstr(r.out, words[i]) == NULL)
			missing = words[i];
	report(r.status == 0 && missing == NULL, name,
	       "status %d, help lacks \"%s\"", r.status,
	       missing ? missing : "");
}

#define WORDS(...) ((const char *const[]){ __VA_ARGS__, NULL })

static void check_floor(void)
{
	static const struct {
		const char *name, *text;
	} garbage[] = {
		{ "letters", "abc\n" },
		{ "empty", "" },
		{ "newline", "\n" },
		{ "87", "87\n" },	/* below IPSECMSS_FLOOR_MIN */
		{ "65496", "65496\n" },	/* above the IPv4 maximum */
		{ "huge", "99999999999999999999\n" },
		{ "junk-after", "1200junk\n" },
		{ "negative", "-600\n" },
		{ "space", " 600\n" },
		{ "two-lines", "600\n600\n" },
	};
	const char *live = param_dir("live", "1200\n", "1400\n");
	const char *raised = param_dir("raised", "1450\n", "1400\n");
	const char *low = param_dir("low", "100\n", "100\n");
	const char *empty = param_dir("no-files", NULL, NULL);
	char name[128], want[1024], want2[1024];
	unsigned int i;

	/* a live floor above the default refuses what the default allows */
	snprintf(want, sizeof(want), "min_mss_ipv4, read from %s/min_mss_ipv4",
		 live);
	floor_refused("floor-live-refuses-v4", live, 4,
		      ARGS("--esp", "aes-gcm-16", "--mtu", "1200"),
		      WORDS("--mtu 1200 is too small", "MSS 1106",
			    "below the floor 1200", want));
	floor_printed("floor-default-accepts-v4", no_module, NULL, 4,
		      ARGS("--esp", "aes-gcm-16", "--mtu", "1200"),
		      " IPSECMSS esp aes-gcm-16 mtu 1200 (mss 1106)");
	snprintf(want, sizeof(want), "min_mss_ipv6, read from %s/min_mss_ipv6",
		 live);
	floor_refused("floor-live-refuses-v6", live, 6,
		      ARGS("--esp", "aes-gcm-16", "--mtu", "1500"),
		      WORDS("MSS 1366", "below the floor 1400", want));
	floor_printed("floor-default-accepts-v6", no_module, NULL, 6,
		      ARGS("--esp", "aes-gcm-16", "--mtu", "1500"),
		      " IPSECMSS esp aes-gcm-16 mtu 1500 (mss 1366)");
	floor_printed("floor-live-accepts-v4", live, NULL, 4,
		      ARGS("--esp", "aes-gcm-16", "--mtu", "1500"),
		      " IPSECMSS esp aes-gcm-16 mtu 1500 (mss 1406)");
	floor_printed("floor-live-min-mss-wins-v4", live, live, 4,
		      ARGS("--esp", "aes-gcm-16", "--mtu", "1200",
			   "--min-mss", "1000"),
		      " IPSECMSS esp aes-gcm-16 mtu 1200 (mss 1106) min-mss 1000");
	floor_printed("floor-live-overhead-v6", live, NULL, 6,
		      ARGS("--overhead", "40", "--mtu", "1500"),
		      " IPSECMSS overhead 40 mtu 1500 (mss 1400)");
	floor_refused("floor-live-overhead-refuses-v6", live, 6,
		      ARGS("--overhead", "41", "--mtu", "1500"),
		      WORDS("MSS 1399", "below the floor 1400",
			    "min_mss_ipv6, read from"));
	/* --auto --mtu: M-40 against the live floor 1200 */
	floor_refused("floor-live-auto-cap-refuses-v4", live, 4,
		      ARGS("--auto", "--mtu", "1239"),
		      WORDS("no MSS above 1199", "below the floor 1200",
			    "min_mss_ipv4, read from"));
	floor_printed("floor-live-auto-cap-accepts-v4", live, NULL, 4,
		      ARGS("--auto", "--mtu", "1240"),
		      " IPSECMSS auto mtu 1240 (cap)");
	floor_printed("floor-low-auto-cap-v6", low, NULL, 6,
		      ARGS("--auto", "--mtu", "576"),
		      " IPSECMSS auto mtu 576 (cap)");
	floor_help("floor-live-help-v4", live, 4,
		   WORDS("module parameter min_mss_ipv4, now 1200"));
	floor_help("floor-live-help-v6", live, 6,
		   WORDS("module parameter min_mss_ipv6, now 1400"));

	/* iptables -L after the parameter was raised: what the kernel sets */
	floor_printed("floor-print-raised-v4", no_module, raised, 4,
		      ARGS("--esp", "aes-gcm-16", "--mtu", "1500"),
		      " IPSECMSS esp aes-gcm-16 mtu 1500 (mss 1450: 1406 raised to the floor, min_mss_ipv4)");
	floor_printed("floor-print-raised-v6", no_module, raised, 6,
		      ARGS("--esp", "aes-gcm-16", "--mtu", "1500"),
		      " IPSECMSS esp aes-gcm-16 mtu 1500 (mss 1400: 1366 raised to the floor, min_mss_ipv6)");
	floor_printed("floor-print-raised-overhead-v4", no_module, raised, 4,
		      ARGS("--overhead", "100", "--mtu", "1500"),
		      " IPSECMSS overhead 100 mtu 1500 (mss 1450: 1360 raised to the floor, min_mss_ipv4)");
	floor_printed("floor-print-raised-min-mss-wins-v4", no_module, raised,
		      4, ARGS("--esp", "aes-gcm-16", "--mtu", "1500",
			      "--min-mss", "600"),
		      " IPSECMSS esp aes-gcm-16 mtu 1500 (mss 1406) min-mss 600");
	floor_printed("floor-print-lowered-v4", raised, low, 4,
		      ARGS("--esp", "aes-gcm-16", "--mtu", "9000"),
		      " IPSECMSS esp aes-gcm-16 mtu 9000 (mss 8906)");
	/* inserted under a low floor, listed without the module's value */
	floor_printed("floor-print-not-loaded-v4", low, no_module, 4,
		      ARGS("--esp", "aes-gcm-16", "--mtu", "600"),
		      " IPSECMSS esp aes-gcm-16 mtu 600 (mss 536: 506 raised to the floor, min_mss_ipv4's default, module not loaded)");
	snprintf(want, sizeof(want),
		 " IPSECMSS esp aes-gcm-16 mtu 1280 (mss 1220: 1146 raised to the floor, min_mss_ipv6's default, %s/min_mss_ipv6 unreadable)",
		 param_dir("print-garbage", "x\n", "x\n"));
	floor_printed("floor-print-garbage-v6", low,
		      param_dir("print-garbage", "x\n", "x\n"), 6,
		      ARGS("--esp", "aes-gcm-16", "--mtu", "1280"), want);

	/* no module: the default, and the message says it is assumed */
	snprintf(want, sizeof(want),
		 "the default of min_mss_ipv4, assumed: the module xt_ipsecmss is not loaded, no %s/min_mss_ipv4",
		 no_module);
	floor_refused("floor-not-loaded-v4", no_module, 4,
		      ARGS("--esp", "aes-gcm-16", "--mtu", "600"),
		      WORDS("MSS 506", "below the floor 536", want));
	snprintf(want, sizeof(want),
		 "the default of min_mss_ipv6, assumed: the module xt_ipsecmss is not loaded, no %s/min_mss_ipv6",
		 no_module);
	floor_refused("floor-not-loaded-v6", no_module, 6,
		      ARGS("--auto", "--mtu", "1279"),
		      WORDS("no MSS above 1219", "below the floor 1220", want));
	floor_help("floor-not-loaded-help-v4", no_module, 4,
		   WORDS("min_mss_ipv4, 536 unless changed",
			 "the module is not loaded"));
	floor_help("floor-not-loaded-help-v6", no_module, 6,
		   WORDS("min_mss_ipv6, 1220 unless changed",
			 "the module is not loaded"));

	/* the directory is there, the file is not */
	snprintf(want, sizeof(want), "%s/min_mss_ipv4 cannot be read", empty);
	floor_refused("floor-no-file-v4", empty, 4,
		      ARGS("--esp", "aes-gcm-16", "--mtu", "600"),
		      WORDS("below the floor 536",
			    "the default of min_mss_ipv4, assumed", want));

	/* garbage: the default, and a note naming the file and its content */
	for (i = 0; i < ARRAY_SIZE(garbage); i++) {
		const char *d;

		snprintf(name, sizeof(name), "floor-garbage-%s",
			 garbage[i].name);
		d = param_dir(name, garbage[i].text, garbage[i].text);
		snprintf(name, sizeof(name), "floor-garbage-%s-v4",
			 garbage[i].name);
		snprintf(want, sizeof(want),
			 "the default of min_mss_ipv4, assumed: %s/min_mss_ipv4 holds \"",
			 d);
		floor_refused(name, d, 4,
			      ARGS("--esp", "aes-gcm-16", "--mtu", "600"),
			      WORDS("MSS 506", "below the floor 536", want,
				    "not a number in 88-65495"));
		snprintf(name, sizeof(name), "floor-garbage-%s-v6",
			 garbage[i].name);
		snprintf(want2, sizeof(want2),
			 "the default of min_mss_ipv6, assumed: %s/min_mss_ipv6 holds \"",
			 d);
		floor_refused(name, d, 6,
			      ARGS("--esp", "aes-gcm-16", "--mtu", "1280"),
			      WORDS("MSS 1146", "below the floor 1220", want2,
				    "not a number in 88-65475"));
	}
	/* a value the IPv4 parameter takes is too large for the IPv6 one */
	floor_refused("floor-garbage-65476-v6",
		      param_dir("v6-65476", "1200\n", "65476\n"), 6,
		      ARGS("--esp", "aes-gcm-16", "--mtu", "1280"),
		      WORDS("below the floor 1220", "holds \"65476\""));
	floor_refused("floor-garbage-shown-v4",
		      param_dir("shown", "12\x01\x7f" "00000000000000000000000\n",
				NULL), 4,
		      ARGS("--esp", "aes-gcm-16", "--mtu", "600"),
		      WORDS("below the floor 536", "holds \"12??000000000000...\""));

	/* without the variable: the real module directory */
	if (access("/sys/module/xt_ipsecmss", F_OK) == 0) {
		printf("SKIP: unit/plugin-floor-real-sysfs: xt_ipsecmss is loaded on this machine\n");
	} else {
		floor_refused("floor-real-sysfs-v4", NULL, 4,
			      ARGS("--esp", "aes-gcm-16", "--mtu", "600"),
			      WORDS("below the floor 536",
				    "the module xt_ipsecmss is not loaded, no /sys/module/xt_ipsecmss/parameters/min_mss_ipv4"));
	}
}

int main(void)
{
	unsigned int i;

	if (getenv("XTABLES_LIBDIR") == NULL) {
		fprintf(stderr, "plugin_driver: set XTABLES_LIBDIR\n");
		return 2;
	}
	/* a floor that does not depend on this machine's module */
	snprintf(floor_tmp, sizeof(floor_tmp), "%s/ipsecmss-params.XXXXXX",
		 getenv("TMPDIR") != NULL ? getenv("TMPDIR") : "/tmp");
	if (mkdtemp(floor_tmp) == NULL) {
		perror(floor_tmp);
		return 2;
	}
	snprintf(no_module, sizeof(no_module), "%s/no-module", floor_tmp);
	setenv("IPSECMSS_SYSFS_PARAMS", no_module, 1);

	check_meta(4);
	check_meta(6);
	check_help(4);
	check_help(6);
	for (i = 0; i < ARRAY_SIZE(good); i++)
		check_good(&good[i]);
	check_suites(4);
	check_suites(6);
	for (i = 0; i < ARRAY_SIZE(bad); i++) {
		if (bad[i].family == 0) {
			check_bad(&bad[i], 4);
			check_bad(&bad[i], 6);
		} else {
			check_bad(&bad[i], bad[i].family);
		}
	}
	check_floor();
	{
		char cmd[400];

		snprintf(cmd, sizeof(cmd), "rm -rf '%s'", floor_tmp);
		if (system(cmd) != 0)
			fprintf(stderr, "plugin_driver: could not remove %s\n",
				floor_tmp);
	}
	/* no "N passed, N failed" here: that line is the runner's alone */
	return n_fail || !n_pass ? 1 : 0;
}
