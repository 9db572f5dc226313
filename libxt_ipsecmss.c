// SPDX-License-Identifier: GPL-2.0
/*
 * libxt_IPSECMSS: the iptables / ip6tables side of the IPSECMSS target.
 *
 * Parses the options into struct xt_ipsecmss_tginfo (include/xt_ipsecmss.h),
 * refuses every contradictory or out-of-range combination with a message
 * that names the problem, and prints, saves and translates a rule.  The
 * ESP arithmetic is the pure core's (include/ipsecmss_core.h), the same
 * code the kernel runs, so what `iptables -L` shows is what the kernel does.
 *
 * One registration per family: the limits (65535 minus the IP and TCP
 * headers) and the inner header size depend on it.
 */
#include <assert.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <xtables.h>

#include "xt_ipsecmss.h"
#include "ipsecmss_core.h"

static_assert(sizeof(struct xt_ipsecmss_tginfo) == XT_IPSECMSS_TGINFO_SIZE,
	      "struct xt_ipsecmss_tginfo is ABI: it must stay 24 bytes");

/*
 * The floor the kernel applies to a derived MSS: --min-mss if given,
 * otherwise its module parameters, whose limits and defaults these are
 * (xt_ipsecmss_main.c: IPSECMSS_FLOOR_MIN, min_mss_ipv4, min_mss_ipv6).  The
 * live values are read from the module's parameter directory; the
 * environment variable IPSECMSS_SYSFS_PARAMS names another directory
 * (for tests on a machine without the module).
 */
#define IPSECMSS_FLOOR_MIN	88	/* the stack's TCP_MIN_MSS */
#define IPSECMSS_FLOOR_DEF4	536
#define IPSECMSS_FLOOR_DEF6	1220
#define IPSECMSS_SYSFS_PARAMS	"/sys/module/xt_ipsecmss/parameters"
#define IPSECMSS_SYSFS_ENV	"IPSECMSS_SYSFS_PARAMS"

enum {
	O_SET_MSS = 0,
	O_AUTO,
	O_OVERHEAD,
	O_ESP,
	O_NATT,
	O_OUTER,
	O_TRANSPORT,
	O_MTU,
	O_MIN_MSS,
	O_FALLBACK_MSS,
};

#define F_SET_MSS	(1u << O_SET_MSS)
#define F_AUTO		(1u << O_AUTO)
#define F_OVERHEAD	(1u << O_OVERHEAD)
#define F_ESP		(1u << O_ESP)
#define F_NATT		(1u << O_NATT)
#define F_OUTER		(1u << O_OUTER)
#define F_TRANSPORT	(1u << O_TRANSPORT)
#define F_MTU		(1u << O_MTU)
#define F_MIN_MSS	(1u << O_MIN_MSS)
#define F_FALLBACK_MSS	(1u << O_FALLBACK_MSS)

#define F_MODES		(F_SET_MSS | F_AUTO | F_OVERHEAD | F_ESP)
#define F_DERIVED	(F_AUTO | F_OVERHEAD | F_ESP)
#define F_ESP_ONLY	(F_NATT | F_OUTER | F_TRANSPORT)

/*
 * Numbers are taken as strings and checked here, so that a negative,
 * non-numeric or out-of-range value gets a message saying which.  The
 * excl/also bits state the combination rules declaratively; the final
 * check below enforces them first, with messages that say what to do.
 */
static const struct xt_option_entry ipsecmss_opts[] = {
	{ .name = "set-mss", .id = O_SET_MSS, .type = XTTYPE_STRING,
	  .excl = (F_MODES & ~F_SET_MSS) | F_ESP_ONLY | F_MTU | F_MIN_MSS |
		  F_FALLBACK_MSS },
	{ .name = "auto", .id = O_AUTO, .type = XTTYPE_NONE,
	  .excl = (F_MODES & ~F_AUTO) | F_ESP_ONLY },
	{ .name = "overhead", .id = O_OVERHEAD, .type = XTTYPE_STRING,
	  .excl = (F_MODES & ~F_OVERHEAD) | F_ESP_ONLY | F_FALLBACK_MSS },
	{ .name = "esp", .id = O_ESP, .type = XTTYPE_STRING,
	  .excl = (F_MODES & ~F_ESP) | F_FALLBACK_MSS },
	{ .name = "natt", .id = O_NATT, .type = XTTYPE_NONE, .also = F_ESP },
	{ .name = "outer", .id = O_OUTER, .type = XTTYPE_STRING,
	  .also = F_ESP },
	{ .name = "transport", .id = O_TRANSPORT, .type = XTTYPE_NONE,
	  .also = F_ESP },
	{ .name = "mtu", .id = O_MTU, .type = XTTYPE_STRING },
	{ .name = "min-mss", .id = O_MIN_MSS, .type = XTTYPE_STRING },
	{ .name = "fallback-mss", .id = O_FALLBACK_MSS, .type = XTTYPE_STRING,
	  .also = F_AUTO },
	XTOPT_TABLEEND,
};

static unsigned int ipsecmss_iph(uint8_t family)
{
	return family == NFPROTO_IPV6 ? 40 : 20;
}

static unsigned int ipsecmss_mss_max(uint8_t family)
{
	return family == NFPROTO_IPV6 ? XT_IPSECMSS_MSS_MAX6 :
					XT_IPSECMSS_MSS_MAX4;
}

static const char *ipsecmss_family_name(uint8_t family)
{
	return family == NFPROTO_IPV6 ? "IPv6" : "IPv4";
}

/* the suite's id for a name, 0 if there is none */
static unsigned int ipsecmss_suite_id(const char *name)
{
	struct ipsecmss_esp_suite s;
	unsigned int id;

	for (id = 1; id <= XT_IPSECMSS_SUITE_MAX; id++)
		if (ipsecmss_esp_suite(id, &s) == 0 &&
		    strcmp(s.name, name) == 0)
			return id;
	return 0;
}

static const char *ipsecmss_suite_name(unsigned int id)
{
	struct ipsecmss_esp_suite s;

	if (id > XT_IPSECMSS_SUITE_MAX || ipsecmss_esp_suite(id, &s))
		return NULL;
	return s.name;
}

/* XT_IPSECMSS_OUTER_* of the rule's own family */
static unsigned int ipsecmss_rule_outer(uint8_t family)
{
	return family == NFPROTO_IPV6 ? XT_IPSECMSS_OUTER_IPV6 :
					XT_IPSECMSS_OUTER_IPV4;
}

/* the outer header's family, after --outer's default */
static unsigned int ipsecmss_outer(const struct xt_ipsecmss_tginfo *info,
				   uint8_t family)
{
	if (info->outer != XT_IPSECMSS_OUTER_RULE)
		return info->outer;
	return ipsecmss_rule_outer(family);
}

/*
 * The MSS an --esp or --overhead rule with a fixed --mtu yields before the
 * floor, exactly as the kernel computes it; 0 when no segment fits or the
 * MSS depends on the route.
 */
static unsigned int ipsecmss_fixed_mss(const struct xt_ipsecmss_tginfo *info,
				       uint8_t family)
{
	unsigned int iph = ipsecmss_iph(family);
	struct ipsecmss_esp_suite s;
	unsigned int inner, outer;

	if (info->mtu == 0)
		return 0;
	switch (info->mode) {
	case XT_IPSECMSS_MODE_OVERHEAD:
		if (info->mtu <= info->overhead)
			return 0;
		return ipsecmss_mss_for_mtu(info->mtu - info->overhead, iph);
	case XT_IPSECMSS_MODE_ESP:
		if (ipsecmss_esp_suite(info->suite, &s))
			return 0;
		outer = ipsecmss_outer(info, family) == XT_IPSECMSS_OUTER_IPV4 ?
			20 : 40;
		inner = ipsecmss_esp_inner_mtu(info->mtu, &s, outer,
					       info->flags & XT_IPSECMSS_F_NATT,
					       info->flags &
						XT_IPSECMSS_F_TRANSPORT);
		return ipsecmss_mss_for_mtu(inner, iph);
	default:
		return 0;
	}
}

/* ----------------------------------------------------------------- floor */

/* where the floor a derived MSS is raised to comes from */
enum ipsecmss_floor_src {
	IPSECMSS_FLOOR_OPTION,		/* the rule's --min-mss */
	IPSECMSS_FLOOR_LIVE,		/* the loaded module's parameter */
	IPSECMSS_FLOOR_NOT_LOADED,	/* no module: its default assumed */
	IPSECMSS_FLOOR_UNREADABLE,	/* parameter unusable: default */
};

struct ipsecmss_floor {
	unsigned int value;
	enum ipsecmss_floor_src src;
	const char *param;		/* "min_mss_ipv4" or "min_mss_ipv6" */
	char path[256];			/* the parameter's file */
	char why[96];			/* IPSECMSS_FLOOR_UNREADABLE: what */
};

/*
 * The value of a module parameter file as the kernel writes it ("1200\n"),
 * or 0 with @why saying what is wrong with it.
 */
static unsigned int ipsecmss_param_value(const char *buf, size_t len,
					 unsigned int max, char *why,
					 size_t size)
{
	unsigned int v = 0;
	char shown[20];
	size_t i, n;

	if (len > 0 && buf[len - 1] == '\n')
		len--;
	for (i = 0; i < len; i++) {
		if (buf[i] < '0' || buf[i] > '9')
			break;
		if (v <= max)
			v = v * 10 + (unsigned int)(buf[i] - '0');
	}
	if (len > 0 && i == len && v >= IPSECMSS_FLOOR_MIN && v <= max)
		return v;
	/* show what is there, printable and short */
	for (i = 0, n = 0; i < len && n < sizeof(shown) - 4; i++)
		shown[n++] = buf[i] >= 0x20 && buf[i] < 0x7f ? buf[i] : '?';
	if (i < len) {
		memcpy(shown + n, "...", 3);
		n += 3;
	}
	shown[n] = '\0';
	snprintf(why, size, "holds \"%s\", not a number in %u-%u", shown,
		 (unsigned int)IPSECMSS_FLOOR_MIN, max);
	return 0;
}

/*
 * The floor the kernel applies to this rule's derived MSS: --min-mss, or
 * the live module parameter, or its default when the module is not loaded
 * or the parameter cannot be read (and then @f says why).
 */
static void ipsecmss_get_floor(const struct xt_ipsecmss_tginfo *info,
			       uint8_t family, struct ipsecmss_floor *f)
{
	unsigned int max = ipsecmss_mss_max(family);
	const char *dir = getenv(IPSECMSS_SYSFS_ENV);
	char buf[64];
	struct stat st;
	size_t len;
	FILE *fp;

	memset(f, 0, sizeof(*f));
	f->param = family == NFPROTO_IPV6 ? "min_mss_ipv6" : "min_mss_ipv4";
	if (info->min_mss) {
		f->value = info->min_mss;
		f->src = IPSECMSS_FLOOR_OPTION;
		return;
	}
	f->value = family == NFPROTO_IPV6 ? IPSECMSS_FLOOR_DEF6 :
					    IPSECMSS_FLOOR_DEF4;
	if (dir == NULL || dir[0] == '\0')
		dir = IPSECMSS_SYSFS_PARAMS;
	snprintf(f->path, sizeof(f->path), "%s/%s", dir, f->param);

	fp = fopen(f->path, "re");
	if (fp == NULL) {
		int err = errno;

		if (err == ENOENT && stat(dir, &st) != 0 && errno == ENOENT) {
			f->src = IPSECMSS_FLOOR_NOT_LOADED;
			return;
		}
		f->src = IPSECMSS_FLOOR_UNREADABLE;
		snprintf(f->why, sizeof(f->why), "cannot be read (%s)",
			 strerror(err));
		return;
	}
	len = fread(buf, 1, sizeof(buf), fp);
	if (ferror(fp)) {
		f->src = IPSECMSS_FLOOR_UNREADABLE;
		snprintf(f->why, sizeof(f->why), "cannot be read (%s)",
			 strerror(errno));
	} else {
		unsigned int v = ipsecmss_param_value(buf, len, max, f->why,
						      sizeof(f->why));

		if (v) {
			f->value = v;
			f->src = IPSECMSS_FLOOR_LIVE;
		} else {
			f->src = IPSECMSS_FLOOR_UNREADABLE;
		}
	}
	fclose(fp);
}

/* where @f comes from, for a refusal: "min_mss_ipv4, read from ..." */
static void ipsecmss_floor_says(const struct ipsecmss_floor *f, char *buf,
				size_t size)
{
	switch (f->src) {
	case IPSECMSS_FLOOR_OPTION:
		snprintf(buf, size, "--min-mss");
		break;
	case IPSECMSS_FLOOR_LIVE:
		snprintf(buf, size, "%s, read from %s", f->param, f->path);
		break;
	case IPSECMSS_FLOOR_NOT_LOADED:
		snprintf(buf, size,
			 "the default of %s, assumed: the module xt_ipsecmss is not loaded, no %s",
			 f->param, f->path);
		break;
	case IPSECMSS_FLOOR_UNREADABLE:
		snprintf(buf, size,
			 "the default of %s, assumed: %s %s", f->param,
			 f->path, f->why);
		break;
	}
}

/* the same, short, for `iptables -L` */
static void ipsecmss_floor_short(const struct ipsecmss_floor *f, char *buf,
				 size_t size)
{
	switch (f->src) {
	case IPSECMSS_FLOOR_OPTION:
		snprintf(buf, size, "--min-mss");
		break;
	case IPSECMSS_FLOOR_LIVE:
		snprintf(buf, size, "%s", f->param);
		break;
	case IPSECMSS_FLOOR_NOT_LOADED:
		snprintf(buf, size, "%s's default, module not loaded",
			 f->param);
		break;
	case IPSECMSS_FLOOR_UNREADABLE:
		snprintf(buf, size, "%s's default, %s unreadable", f->param,
			 f->path);
		break;
	}
}

/* ------------------------------------------------------------------ help */

static void ipsecmss_help(uint8_t family)
{
	static const struct xt_ipsecmss_tginfo none;
	struct ipsecmss_esp_suite s;
	struct ipsecmss_floor f;
	char now[512];
	unsigned int id;

	ipsecmss_get_floor(&none, family, &f);
	switch (f.src) {
	case IPSECMSS_FLOOR_LIVE:
		snprintf(now, sizeof(now), "now %u", f.value);
		break;
	case IPSECMSS_FLOOR_NOT_LOADED:
		snprintf(now, sizeof(now),
			 "%u unless changed;\n                         the module is not loaded",
			 f.value);
		break;
	default:
		snprintf(now, sizeof(now),
			 "%u unless changed;\n                         %s %s",
			 f.value, f.path, f.why);
		break;
	}
	printf(
"IPSECMSS target options (exactly one mode; an MSS is only ever lowered):\n"
"  --set-mss value        set the MSS to value (1-%u for %s)\n"
"  --auto                 the largest MSS that fits through the IPsec SA (or\n"
"                         plain route) in both directions, from the live state\n"
"  --esp suite            the exact overhead of an ESP SA of that suite, on top\n"
"                         of the MTU (see --mtu)\n"
"  --overhead bytes       a fixed per-packet overhead on top of the MTU\n"
"With --esp:\n"
"  --natt                 UDP encapsulation (NAT traversal, 8 bytes more)\n"
"  --outer ipv4|ipv6      family of the ESP packet's outer header\n"
"                         (default: the rule's, %s)\n"
"  --transport            transport mode (default: tunnel mode)\n"
"With --esp or --overhead:\n"
"  --mtu value            the underlay MTU (%u-%u; default: the smaller of the\n"
"                         forward and reverse route MTUs)\n"
"With --auto:\n"
"  --mtu value            a cap (%u-%u) on the underlay MTU the SA arithmetic\n"
"                         starts from, and on a plain route's MTU: for an\n"
"                         underlay path smaller than the gateway's own link\n"
"                         (a 9000-byte cloud interface, PPPoE further out)\n"
"  --fallback-mss value   MSS to use when no MTU can be found (1-%u;\n"
"                         default: leave the segment unchanged)\n"
"With --auto, --esp or --overhead:\n"
"  --min-mss value        never set an MSS below value (%u-%u; default: the\n"
"                         module parameter %s, %s)\n"
"ESP suites (--esp):\n",
	       ipsecmss_mss_max(family), ipsecmss_family_name(family),
	       family == NFPROTO_IPV6 ? "ipv6" : "ipv4",
	       (unsigned int)XT_IPSECMSS_MTU_MIN,
	       (unsigned int)XT_IPSECMSS_MTU_MAX,
	       (unsigned int)XT_IPSECMSS_MTU_MIN,
	       (unsigned int)XT_IPSECMSS_MTU_MAX,
	       ipsecmss_mss_max(family),
	       (unsigned int)IPSECMSS_FLOOR_MIN, ipsecmss_mss_max(family),
	       f.param, now);
	for (id = 1; id <= XT_IPSECMSS_SUITE_MAX; id++)
		if (ipsecmss_esp_suite(id, &s) == 0)
			printf("  %-22s %s\n", s.name, s.desc);
}

static void ipsecmss_help4(void)
{
	ipsecmss_help(NFPROTO_IPV4);
}

static void ipsecmss_help6(void)
{
	ipsecmss_help(NFPROTO_IPV6);
}

/* ----------------------------------------------------------------- parse */

/*
 * A decimal number in min..max, or a refusal that says what is wrong
 * with it.  @what completes the range in the message (" for IPv4").
 */
static unsigned int ipsecmss_number(const char *opt, const char *arg,
				    unsigned int min, unsigned int max,
				    const char *what)
{
	unsigned long long v = 0;
	const char *p;

	if (arg[0] == '-' && arg[1] >= '0' && arg[1] <= '9')
		xtables_error(PARAMETER_PROBLEM,
			      "IPSECMSS: --%s %s is negative; it takes %u-%u%s",
			      opt, arg, min, max, what);
	if (arg[0] == '\0')
		xtables_error(PARAMETER_PROBLEM,
			      "IPSECMSS: --%s needs a number (%u-%u%s), got an empty string",
			      opt, min, max, what);
	for (p = arg; *p != '\0'; p++) {
		if (*p < '0' || *p > '9')
			xtables_error(PARAMETER_PROBLEM,
				      "IPSECMSS: --%s \"%s\" is not a number; it takes %u-%u%s",
				      opt, arg, min, max, what);
		if (v <= max)	/* stop growing once out of range */
			v = v * 10 + (unsigned int)(*p - '0');
	}
	if (v < min || v > max)
		xtables_error(PARAMETER_PROBLEM,
			      "IPSECMSS: --%s %s is out of range %u-%u%s",
			      opt, arg, min, max, what);
	return (unsigned int)v;
}

static void ipsecmss_unknown_suite(const char *name)
{
	char known[512] = "";
	size_t len = 0;
	unsigned int id;

	for (id = 1; id <= XT_IPSECMSS_SUITE_MAX; id++) {
		const char *n = ipsecmss_suite_name(id);
		int w;

		if (!n)
			continue;
		w = snprintf(known + len, sizeof(known) - len, "%s%s",
			     len ? ", " : "", n);
		if (w < 0 || (size_t)w >= sizeof(known) - len)
			break;
		len += (size_t)w;
	}
	xtables_error(PARAMETER_PROBLEM,
		      "IPSECMSS: unknown ESP suite \"%s\"; known: %s",
		      name, known);
}

static void ipsecmss_parse(struct xt_option_call *cb, uint8_t family)
{
	struct xt_ipsecmss_tginfo *info = cb->data;
	unsigned int max = ipsecmss_mss_max(family);
	const char *fam = family == NFPROTO_IPV6 ? " for IPv6" : " for IPv4";

	/* once-only and no-inversion checks, and cb->xflags */
	xtables_option_parse(cb);

	switch (cb->entry->id) {
	case O_SET_MSS:
		info->mode = XT_IPSECMSS_MODE_SET;
		info->mss = (__u16)ipsecmss_number("set-mss", cb->arg,
						   XT_IPSECMSS_MSS_MIN, max,
						   fam);
		break;
	case O_AUTO:
		info->mode = XT_IPSECMSS_MODE_AUTO;
		break;
	case O_OVERHEAD:
		info->mode = XT_IPSECMSS_MODE_OVERHEAD;
		info->overhead = (__u16)ipsecmss_number("overhead", cb->arg,
							1, 65535, " bytes");
		break;
	case O_ESP:
		info->mode = XT_IPSECMSS_MODE_ESP;
		info->suite = (__u8)ipsecmss_suite_id(cb->arg);
		if (info->suite == XT_IPSECMSS_SUITE_NONE)
			ipsecmss_unknown_suite(cb->arg);
		break;
	case O_NATT:
		info->flags |= XT_IPSECMSS_F_NATT;
		break;
	case O_OUTER:
		if (strcmp(cb->arg, "ipv4") == 0)
			info->outer = XT_IPSECMSS_OUTER_IPV4;
		else if (strcmp(cb->arg, "ipv6") == 0)
			info->outer = XT_IPSECMSS_OUTER_IPV6;
		else
			xtables_error(PARAMETER_PROBLEM,
				      "IPSECMSS: --outer takes ipv4 or ipv6, not \"%s\"",
				      cb->arg);
		break;
	case O_TRANSPORT:
		info->flags |= XT_IPSECMSS_F_TRANSPORT;
		break;
	case O_MTU:
		info->mtu = (__u16)ipsecmss_number("mtu", cb->arg,
						   XT_IPSECMSS_MTU_MIN,
						   XT_IPSECMSS_MTU_MAX, "");
		break;
	case O_MIN_MSS:
		info->min_mss = (__u16)ipsecmss_number("min-mss", cb->arg,
						       IPSECMSS_FLOOR_MIN,
						       max, fam);
		break;
	case O_FALLBACK_MSS:
		info->fallback_mss = (__u16)ipsecmss_number("fallback-mss",
							    cb->arg,
							    XT_IPSECMSS_MSS_MIN,
							    max, fam);
		info->flags |= XT_IPSECMSS_F_FALLBACK;
		break;
	}
}

static void ipsecmss_parse4(struct xt_option_call *cb)
{
	ipsecmss_parse(cb, NFPROTO_IPV4);
}

static void ipsecmss_parse6(struct xt_option_call *cb)
{
	ipsecmss_parse(cb, NFPROTO_IPV6);
}

/* the name of the lowest option whose bit is in @flags */
static const char *ipsecmss_first_opt(unsigned int flags)
{
	const struct xt_option_entry *e;

	for (e = ipsecmss_opts; e->name; e++)
		if (flags & (1u << e->id))
			return e->name;
	return "?";
}

/* describes the overhead of a rule for a message: "ESP suite aes-gcm-16" */
static void ipsecmss_describe(const struct xt_ipsecmss_tginfo *info,
			      uint8_t family, char *buf, size_t size)
{
	const char *suite = ipsecmss_suite_name(info->suite);

	if (info->mode == XT_IPSECMSS_MODE_OVERHEAD) {
		snprintf(buf, size, "--overhead %u", info->overhead);
		return;
	}
	snprintf(buf, size, "--esp %s (%s%s outer, %s mode)",
		 suite ? suite : "?",
		 info->flags & XT_IPSECMSS_F_NATT ? "UDP-encapsulated, " : "",
		 ipsecmss_outer(info, family) == XT_IPSECMSS_OUTER_IPV4 ?
			"IPv4" : "IPv6",
		 info->flags & XT_IPSECMSS_F_TRANSPORT ? "transport" :
							 "tunnel");
}

static void ipsecmss_check(struct xt_fcheck_call *cb, uint8_t family)
{
	const struct xt_ipsecmss_tginfo *info = cb->data;
	unsigned int xf = cb->xflags, modes = xf & F_MODES;
	struct ipsecmss_floor floor;
	char what[96], from[512];
	unsigned int mss;

	if (modes == 0)
		xtables_error(PARAMETER_PROBLEM,
			      "IPSECMSS: no mode given: use --set-mss, --auto, --esp or --overhead");
	if (modes & (modes - 1))
		xtables_error(PARAMETER_PROBLEM,
			      "IPSECMSS: --%s and --%s are both modes; give exactly one of --set-mss, --auto, --esp or --overhead",
			      ipsecmss_first_opt(modes),
			      ipsecmss_first_opt(modes & (modes - 1)));
	if ((xf & F_ESP_ONLY) && !(xf & F_ESP))
		xtables_error(PARAMETER_PROBLEM,
			      "IPSECMSS: --%s only goes with --esp (it describes the ESP SA)",
			      ipsecmss_first_opt(xf & F_ESP_ONLY));
	if ((info->flags & XT_IPSECMSS_F_TRANSPORT) &&
	    info->outer != XT_IPSECMSS_OUTER_RULE &&
	    info->outer != ipsecmss_rule_outer(family))
		xtables_error(PARAMETER_PROBLEM,
			      "IPSECMSS: --outer ipv%u does not go with --transport in an %s rule: transport mode keeps the packet's own %s header",
			      info->outer, ipsecmss_family_name(family),
			      ipsecmss_family_name(family));
	if ((xf & F_MTU) && !(xf & F_DERIVED))
		xtables_error(PARAMETER_PROBLEM,
			      "IPSECMSS: --mtu only goes with --auto, --esp or --overhead, not with --%s",
			      ipsecmss_first_opt(modes));
	if ((xf & F_MIN_MSS) && !(xf & F_DERIVED))
		xtables_error(PARAMETER_PROBLEM,
			      "IPSECMSS: --min-mss only goes with a derived mode (--auto, --esp or --overhead), not with --%s",
			      ipsecmss_first_opt(modes));
	if ((xf & F_FALLBACK_MSS) && !(xf & F_AUTO))
		xtables_error(PARAMETER_PROBLEM,
			      "IPSECMSS: --fallback-mss only goes with --auto, not with --%s",
			      ipsecmss_first_opt(modes));

	if (!(xf & F_MTU))
		return;
	ipsecmss_get_floor(info, family, &floor);
	ipsecmss_floor_says(&floor, from, sizeof(from));
	if (xf & F_AUTO) {
		/*
		 * A cap: no MSS above what the capped MTU carries without
		 * any overhead can come out.  If even that is below the
		 * floor, every derived value is raised to the floor and
		 * the cap says nothing.
		 */
		mss = info->mtu - ipsecmss_iph(family) - 20;
		if (mss < floor.value)
			xtables_error(PARAMETER_PROBLEM,
				      "IPSECMSS: --auto --mtu %u caps the underlay so low that no MSS above %u can come out, below the floor %u (%s), which would raise every derived MSS again; give a larger --mtu%s",
				      info->mtu, mss, floor.value, from,
				      mss >= IPSECMSS_FLOOR_MIN ?
					" or a --min-mss of at most that MSS" :
					"");
		return;
	}
	/* a fixed MTU: the MSS is known now, and must fit and be usable */
	ipsecmss_describe(info, family, what, sizeof(what));
	mss = ipsecmss_fixed_mss(info, family);
	if (mss == 0)
		xtables_error(PARAMETER_PROBLEM,
			      "IPSECMSS: --mtu %u is too small for %s: not even one byte of TCP payload fits",
			      info->mtu, what);
	if (mss < floor.value)
		xtables_error(PARAMETER_PROBLEM,
			      "IPSECMSS: --mtu %u is too small for %s: it leaves MSS %u, below the floor %u (%s), which would raise it again; give a larger --mtu%s",
			      info->mtu, what, mss, floor.value, from,
			      mss >= IPSECMSS_FLOOR_MIN ?
				" or a --min-mss of at most that MSS" : "");
}

static void ipsecmss_check4(struct xt_fcheck_call *cb)
{
	ipsecmss_check(cb, NFPROTO_IPV4);
}

static void ipsecmss_check6(struct xt_fcheck_call *cb)
{
	ipsecmss_check(cb, NFPROTO_IPV6);
}

/* ------------------------------------------------------- print and save */

static void ipsecmss_print(const struct xt_entry_target *target,
			   uint8_t family)
{
	const struct xt_ipsecmss_tginfo *info = (const void *)target->data;
	const char *suite;

	printf(" IPSECMSS");
	switch (info->mode) {
	case XT_IPSECMSS_MODE_SET:
		printf(" set-mss %u", info->mss);
		return;
	case XT_IPSECMSS_MODE_AUTO:
		printf(" auto");
		break;
	case XT_IPSECMSS_MODE_OVERHEAD:
		printf(" overhead %u", info->overhead);
		break;
	case XT_IPSECMSS_MODE_ESP:
		suite = ipsecmss_suite_name(info->suite);
		if (suite)
			printf(" esp %s", suite);
		else
			printf(" esp suite#%u", info->suite);
		if (info->flags & XT_IPSECMSS_F_NATT)
			printf(" natt");
		if (info->outer == XT_IPSECMSS_OUTER_IPV4)
			printf(" outer ipv4");
		else if (info->outer == XT_IPSECMSS_OUTER_IPV6)
			printf(" outer ipv6");
		if (info->flags & XT_IPSECMSS_F_TRANSPORT)
			printf(" transport");
		break;
	default:
		printf(" mode#%u", info->mode);
		return;
	}
	if (info->mtu && info->mode == XT_IPSECMSS_MODE_AUTO) {
		printf(" mtu %u (cap)", info->mtu);
	} else if (info->mtu) {
		unsigned int mss = ipsecmss_fixed_mss(info, family);
		struct ipsecmss_floor floor;
		char from[512];

		/* what the kernel sets: the floor raises a smaller MSS */
		ipsecmss_get_floor(info, family, &floor);
		if (mss == 0) {
			printf(" mtu %u (no mss fits)", info->mtu);
		} else if (mss < floor.value) {
			ipsecmss_floor_short(&floor, from, sizeof(from));
			printf(" mtu %u (mss %u: %u raised to the floor, %s)",
			       info->mtu, floor.value, mss, from);
		} else {
			printf(" mtu %u (mss %u)", info->mtu, mss);
		}
	}
	if (info->min_mss)
		printf(" min-mss %u", info->min_mss);
	if (info->flags & XT_IPSECMSS_F_FALLBACK)
		printf(" fallback-mss %u", info->fallback_mss);
}

static void ipsecmss_print4(const void *ip, const struct xt_entry_target *target,
			    int numeric)
{
	(void)ip;
	(void)numeric;
	ipsecmss_print(target, NFPROTO_IPV4);
}

static void ipsecmss_print6(const void *ip, const struct xt_entry_target *target,
			    int numeric)
{
	(void)ip;
	(void)numeric;
	ipsecmss_print(target, NFPROTO_IPV6);
}

/* the options that parse back into exactly this struct */
static void ipsecmss_save(const void *ip, const struct xt_entry_target *target)
{
	const struct xt_ipsecmss_tginfo *info = (const void *)target->data;
	const char *suite;

	(void)ip;
	switch (info->mode) {
	case XT_IPSECMSS_MODE_SET:
		printf(" --set-mss %u", info->mss);
		return;
	case XT_IPSECMSS_MODE_AUTO:
		printf(" --auto");
		break;
	case XT_IPSECMSS_MODE_OVERHEAD:
		printf(" --overhead %u", info->overhead);
		break;
	case XT_IPSECMSS_MODE_ESP:
		suite = ipsecmss_suite_name(info->suite);
		/*
		 * cannot happen: the kernel refuses an unknown suite; if it
		 * did, restoring "unknown" fails rather than picking another
		 */
		printf(" --esp %s", suite ? suite : "unknown");
		if (info->flags & XT_IPSECMSS_F_NATT)
			printf(" --natt");
		if (info->outer == XT_IPSECMSS_OUTER_IPV4)
			printf(" --outer ipv4");
		else if (info->outer == XT_IPSECMSS_OUTER_IPV6)
			printf(" --outer ipv6");
		if (info->flags & XT_IPSECMSS_F_TRANSPORT)
			printf(" --transport");
		break;
	default:
		return;
	}
	if (info->mtu)
		printf(" --mtu %u", info->mtu);
	if (info->min_mss)
		printf(" --min-mss %u", info->min_mss);
	if (info->flags & XT_IPSECMSS_F_FALLBACK)
		printf(" --fallback-mss %u", info->fallback_mss);
}

/* ------------------------------------------------------------- translate */

/*
 * nftables can set a fixed MSS but not derive one from an SA or a route
 * plus an overhead.  So a rule whose MSS is a constant (--set-mss, or
 * --esp / --overhead with a fixed --mtu) becomes the nftables rule that
 * does what IPSECMSS does with it: on segments with SYN set, lower an
 * MSS option above the value, never raise one.  (Unlike IPSECMSS, nft
 * does not insert an option a SYN lacks.)  Any other rule has no
 * equivalent: return 0, so that iptables-translate prints it as a
 * comment, and say why on stderr.
 */
static int ipsecmss_xlate(struct xt_xlate *xl,
			  const struct xt_xlate_tg_params *params,
			  uint8_t family)
{
	const struct xt_ipsecmss_tginfo *info =
		(const void *)params->target->data;
	unsigned int mss = 0;

	switch (info->mode) {
	case XT_IPSECMSS_MODE_SET:
		mss = info->mss;
		break;
	case XT_IPSECMSS_MODE_OVERHEAD:
	case XT_IPSECMSS_MODE_ESP:
		mss = ipsecmss_fixed_mss(info, family);
		if (mss && info->min_mss > mss)
			mss = info->min_mss;
		break;
	default:
		break;
	}
	if (mss) {
		xt_xlate_add(xl,
			     "tcp flags & syn == syn tcp option maxseg size > %u tcp option maxseg size set %u",
			     mss, mss);
		return 1;
	}

	if (info->mode == XT_IPSECMSS_MODE_AUTO && info->mtu)
		fprintf(stderr,
			"IPSECMSS: --auto has no nftables equivalent: nftables cannot derive an MSS from the IPsec SA or the reverse route (--mtu %u only caps the underlay, it does not fix the MSS); rule not translated\n",
			info->mtu);
	else if (info->mode == XT_IPSECMSS_MODE_AUTO)
		fprintf(stderr,
			"IPSECMSS: --auto has no nftables equivalent: nftables cannot derive an MSS from the IPsec SA or the reverse route; rule not translated\n");
	else if (info->mode == XT_IPSECMSS_MODE_ESP ||
		 info->mode == XT_IPSECMSS_MODE_OVERHEAD)
		fprintf(stderr,
			"IPSECMSS: --%s without --mtu has no nftables equivalent: nftables cannot take an overhead off the route MTU; rule not translated (with a fixed --mtu it would be)\n",
			info->mode == XT_IPSECMSS_MODE_ESP ? "esp" :
							     "overhead");
	else
		fprintf(stderr,
			"IPSECMSS: mode %u is unknown; rule not translated\n",
			info->mode);
	return 0;
}

static int ipsecmss_xlate4(struct xt_xlate *xl,
			   const struct xt_xlate_tg_params *params)
{
	return ipsecmss_xlate(xl, params, NFPROTO_IPV4);
}

static int ipsecmss_xlate6(struct xt_xlate *xl,
			   const struct xt_xlate_tg_params *params)
{
	return ipsecmss_xlate(xl, params, NFPROTO_IPV6);
}

/* ---------------------------------------------------------- registration */

static struct xtables_target ipsecmss_tg_reg[] = {
	{
		.version	= XTABLES_VERSION,
		.name		= "IPSECMSS",
		.revision	= 0,
		.family		= NFPROTO_IPV4,
		.size		= XT_ALIGN(sizeof(struct xt_ipsecmss_tginfo)),
		.userspacesize	= XT_ALIGN(sizeof(struct xt_ipsecmss_tginfo)),
		.help		= ipsecmss_help4,
		.print		= ipsecmss_print4,
		.save		= ipsecmss_save,
		.x6_parse	= ipsecmss_parse4,
		.x6_fcheck	= ipsecmss_check4,
		.x6_options	= ipsecmss_opts,
		.xlate		= ipsecmss_xlate4,
	},
	{
		.version	= XTABLES_VERSION,
		.name		= "IPSECMSS",
		.revision	= 0,
		.family		= NFPROTO_IPV6,
		.size		= XT_ALIGN(sizeof(struct xt_ipsecmss_tginfo)),
		.userspacesize	= XT_ALIGN(sizeof(struct xt_ipsecmss_tginfo)),
		.help		= ipsecmss_help6,
		.print		= ipsecmss_print6,
		.save		= ipsecmss_save,
		.x6_parse	= ipsecmss_parse6,
		.x6_fcheck	= ipsecmss_check6,
		.x6_options	= ipsecmss_opts,
		.xlate		= ipsecmss_xlate6,
	},
};

static void __attribute__((constructor)) ipsecmss_tg_ldr(void)
{
	xtables_register_targets(ipsecmss_tg_reg,
				 sizeof(ipsecmss_tg_reg) /
				 sizeof(ipsecmss_tg_reg[0]));
}
