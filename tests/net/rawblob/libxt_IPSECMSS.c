// SPDX-License-Identifier: GPL-2.0
/*
 * TEST ONLY: a stand-in for libxt_IPSECMSS.so that puts any 24 bytes into
 * the rule, so that tests/net/72-raw-blob.sh can hand the kernel blobs the
 * real plugin would never build.  Never install it.
 *
 *   iptables -A FORWARD -p tcp -j IPSECMSS --raw HEX
 *
 * HEX: exactly 48 hex digits, copied byte by byte (in the order given)
 * into struct xt_ipsecmss_tginfo; no field is looked at.
 */
#include <stdio.h>
#include <string.h>
#include <xtables.h>

#include "xt_ipsecmss.h"

#define RAW_SIZE XT_IPSECMSS_TGINFO_SIZE

_Static_assert(sizeof(struct xt_ipsecmss_tginfo) == RAW_SIZE,
	       "the rule blob is 24 bytes");

enum { O_RAW = 0 };

static const struct xt_option_entry rawblob_opts[] = {
	{ .name = "raw", .id = O_RAW, .type = XTTYPE_STRING,
	  .flags = XTOPT_MAND },
	XTOPT_TABLEEND,
};

static void rawblob_help(void)
{
	printf("IPSECMSS (raw blob, test only) options:\n"
	       "  --raw HEX    the %d bytes of the rule, as %d hex digits\n",
	       RAW_SIZE, 2 * RAW_SIZE);
}

static int rawblob_nibble(char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}

static void rawblob_parse(struct xt_option_call *cb)
{
	unsigned char *blob = (unsigned char *)cb->data;
	const char *hex = cb->arg;
	size_t i;

	xtables_option_parse(cb);
	if (strlen(hex) != 2 * RAW_SIZE)
		xtables_error(PARAMETER_PROBLEM,
			      "IPSECMSS(raw): --raw needs %d hex digits, got %zu",
			      2 * RAW_SIZE, strlen(hex));
	for (i = 0; i < RAW_SIZE; i++) {
		int hi = rawblob_nibble(hex[2 * i]);
		int lo = rawblob_nibble(hex[2 * i + 1]);

		if (hi < 0 || lo < 0)
			xtables_error(PARAMETER_PROBLEM,
				      "IPSECMSS(raw): \"%s\" is not hex", hex);
		blob[i] = (unsigned char)(hi << 4 | lo);
	}
}

static void rawblob_hex(const struct xt_entry_target *target)
{
	size_t i;

	for (i = 0; i < RAW_SIZE; i++)
		printf("%02x", target->data[i]);
}

static void rawblob_print(const void *ip, const struct xt_entry_target *target,
			  int numeric)
{
	(void)ip;
	(void)numeric;
	printf(" IPSECMSS raw ");
	rawblob_hex(target);
}

static void rawblob_save(const void *ip, const struct xt_entry_target *target)
{
	(void)ip;
	printf(" --raw ");
	rawblob_hex(target);
}

static struct xtables_target rawblob_tg_reg = {
	.name		= "IPSECMSS",
	.version	= XTABLES_VERSION,
	.revision	= 0,
	.family		= NFPROTO_UNSPEC,
	.size		= XT_ALIGN(RAW_SIZE),
	.userspacesize	= XT_ALIGN(RAW_SIZE),
	.help		= rawblob_help,
	.print		= rawblob_print,
	.save		= rawblob_save,
	.x6_parse	= rawblob_parse,
	.x6_options	= rawblob_opts,
};

static void __attribute__((constructor)) rawblob_ldr(void)
{
	xtables_register_target(&rawblob_tg_reg);
}
