// SPDX-License-Identifier: GPL-2.0
/*
 * synflood: a SYN generator for `make bench` (tests/bench/vm-bench.sh).
 *
 * Sends crafted IPv4 TCP SYNs (with an MSS option) as fast as it can from
 * an AF_PACKET socket on one interface of one network namespace, and
 * counts how many of them a second namespace forwarded: the transmit
 * counter of an interface there (/proc/net/dev, opened while in that
 * namespace, stays bound to it).
 *
 *   synflood --netns NS --dev DEV --src-mac MAC --dst-mac MAC --dst IP
 *            --variant NAME=SRC[,esp][,sink][,swap] [--variant ...]
 *            [--dport N] [--mss N] [--layout linux|windows|mss|none]
 *            [--spi SPI --outer-src IP --outer-dst IP] [--sink-mac MAC]
 *            [--count-netns NS --count-dev DEV]
 *            [--path DEV,DST-MAC,COUNT-NS,COUNT-DEV ...]
 *            [--seconds S] [--slice S] [--warmup S] [--cpu N] [--batch N]
 *            [--mark FILE --mark-id ID]
 *
 * Each variant is a stream of SYNs from its own source address SRC; the
 * gateway's rules tell them apart by that address, so that every rule
 * under test is in place at once and the generator alone switches between
 * them, SLICE seconds at a time (default 0.1), in cycles that run the
 * variants forward and back (A B C C B A): no process start, no rule
 * reload between two compared configurations, and a drift of the
 * emulated CPU's speed within a cycle cancels.  ",esp" wraps the variant's
 * SYNs in tunnel-mode ESP with the NULL cipher and no integrity check
 * (SA: ip xfrm state ... enc "ecb(cipher_null)" "" replay-window 0, SPI
 * SPI between --outer-src and --outer-dst): the gateway really
 * decapsulates them through xfrm, so the forwarded SYN carries a secpath,
 * at almost no crypto cost.  ",sink" sends to --sink-mac, an address
 * nobody has, so the frames die on arrival: the generator's own share of
 * the time; it is counted by what was sent, not by the egress counter.
 * ",swap" trades places with the next variant in every other cycle, so
 * the two sides of a compared pair have the same neighbours on average.
 * ",path=N" sends the variant by the N-th --path instead (1..3): another
 * interface of the same client namespace, toward another gateway, counted
 * on that gateway's interface; so scenes that must not share a namespace
 * (one with conntrack and NAT, one without any --auto rule) alternate in
 * the same cycles as the rest.
 *
 * The frames are processed on the sending CPU (a veth hands them to the
 * receive path there), so the count of a slice is taken once its last
 * batch returned and the CPU's deferred receive work (ksoftirqd) is done:
 * 0.2 ms naps until the egress counter stands still, counted in the
 * slice's time.  After WARMUP seconds (every variant in turn),
 * SECONDS of cycles are measured.
 *
 * --mark writes "mark ID start" and "mark ID end" lines to FILE (a serial
 * port the host watches) at the two ends of the measured time, so the
 * host can read how much CPU time the emulated CPU really got meanwhile.
 *
 * Prints, per cycle and then in total:
 *   cycle K NAME=RATE NAME=RATE ...
 *   total NAME sent=N counted=M secs=S rate=R
 * RATE: SYNs forwarded (sink: sent) per second in that variant's slices.
 */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <linux/if_packet.h>
#include <net/ethernet.h>
#include <net/if.h>
#include <sched.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#define NFRAMES		128
#define VMAX		16
#define FRAME_MAX	160
#define BATCH_MAX	256
#define PATHS		4	/* path 0: --dev, --dst-mac, --count-* */

static void die(const char *what)
{
	perror(what);
	exit(1);
}

static void usage(const char *msg)
{
	fprintf(stderr, "synflood: %s (see the head of tests/bench/synflood.c)\n", msg);
	exit(2);
}

static double now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static void enter_netns(const char *name)
{
	char path[256];
	int fd;

	if (strchr(name, '/'))
		snprintf(path, sizeof(path), "%s", name);
	else
		snprintf(path, sizeof(path), "/run/netns/%s", name);
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		die(path);
	if (setns(fd, CLONE_NEWNET))
		die("setns");
	close(fd);
}

static void parse_mac(const char *s, uint8_t *mac)
{
	unsigned int b[6], i;

	if (sscanf(s, "%x:%x:%x:%x:%x:%x", &b[0], &b[1], &b[2], &b[3], &b[4],
		   &b[5]) != 6)
		usage("bad MAC address");
	for (i = 0; i < 6; i++)
		mac[i] = (uint8_t)b[i];
}

static uint32_t parse_ip4(const char *s)
{
	struct in_addr a;

	if (inet_pton(AF_INET, s, &a) != 1)
		usage("bad IPv4 address");
	return a.s_addr;	/* network order */
}

static void put16(uint8_t *p, unsigned int v)
{
	p[0] = (uint8_t)(v >> 8);
	p[1] = (uint8_t)v;
}

static void put32(uint8_t *p, uint32_t v)
{
	p[0] = (uint8_t)(v >> 24);
	p[1] = (uint8_t)(v >> 16);
	p[2] = (uint8_t)(v >> 8);
	p[3] = (uint8_t)v;
}

static uint32_t sum16(const uint8_t *p, size_t len, uint32_t s)
{
	size_t i;

	for (i = 0; i + 1 < len; i += 2)
		s += (uint32_t)p[i] << 8 | p[i + 1];
	if (len & 1)
		s += (uint32_t)p[len - 1] << 8;
	return s;
}

static unsigned int fold(uint32_t s)
{
	while (s >> 16)
		s = (s & 0xffff) + (s >> 16);
	return ~s & 0xffff;
}

/* IPv4 header at p, total length tot, protocol proto; addresses as given */
static void ip4_header(uint8_t *p, unsigned int tot, unsigned int proto,
		       uint32_t saddr, uint32_t daddr, unsigned int id)
{
	memset(p, 0, 20);
	p[0] = 0x45;
	put16(p + 2, tot);
	put16(p + 4, id);
	p[6] = 0x40;		/* DF */
	p[8] = 64;
	p[9] = (uint8_t)proto;
	memcpy(p + 12, &saddr, 4);
	memcpy(p + 16, &daddr, 4);
	put16(p + 10, fold(sum16(p, 20, 0)));
}

/* TCP SYN options of a layout; returns their length (a multiple of 4) */
static unsigned int syn_options(uint8_t *o, const char *layout,
				unsigned int mss, uint32_t tsval)
{
	unsigned int n = 0;

	if (!strcmp(layout, "linux")) {
		/* MSS, SACK_PERM, TS, NOP, WS */
		o[n++] = 2; o[n++] = 4; put16(o + n, mss); n += 2;
		o[n++] = 4; o[n++] = 2;
		o[n++] = 8; o[n++] = 10; put32(o + n, tsval); n += 4;
		put32(o + n, 0); n += 4;
		o[n++] = 1;
		o[n++] = 3; o[n++] = 3; o[n++] = 7;
	} else if (!strcmp(layout, "windows")) {
		/* MSS, NOP, WS, NOP, NOP, SACK_PERM */
		o[n++] = 2; o[n++] = 4; put16(o + n, mss); n += 2;
		o[n++] = 1;
		o[n++] = 3; o[n++] = 3; o[n++] = 8;
		o[n++] = 1; o[n++] = 1;
		o[n++] = 4; o[n++] = 2;
	} else if (!strcmp(layout, "mss")) {
		o[n++] = 2; o[n++] = 4; put16(o + n, mss); n += 2;
	} else if (strcmp(layout, "none")) {
		usage("unknown --layout");
	}
	return n;
}

/*
 * One SYN (IPv4 + TCP) at p; returns its length.  The TCP checksum is
 * exact, although nothing on a forwarding path checks it.
 */
static unsigned int build_syn(uint8_t *p, uint32_t saddr, uint32_t daddr,
			      unsigned int sport, unsigned int dport,
			      uint32_t seq, const char *layout,
			      unsigned int mss, unsigned int id)
{
	uint8_t *th = p + 20, pseudo[12];
	unsigned int olen, tlen;
	uint32_t s;

	olen = syn_options(th + 20, layout, mss, seq ^ 0x5a5a5a5au);
	tlen = 20 + olen;
	put16(th, sport);
	put16(th + 2, dport);
	put32(th + 4, seq);
	put32(th + 8, 0);
	th[12] = (uint8_t)((tlen / 4) << 4);
	th[13] = 0x02;		/* SYN */
	put16(th + 14, 64240);
	put16(th + 16, 0);
	put16(th + 18, 0);
	memcpy(pseudo, &saddr, 4);
	memcpy(pseudo + 4, &daddr, 4);
	pseudo[8] = 0;
	pseudo[9] = 6;
	put16(pseudo + 10, tlen);
	s = sum16(pseudo, 12, 0);
	s = sum16(th, tlen, s);
	put16(th + 16, fold(s));
	ip4_header(p, 20 + tlen, 6, saddr, daddr, id);
	return 20 + tlen;
}

static void put_mark(int fd, const char *id, const char *what)
{
	char line[160];
	int n;

	if (fd < 0)
		return;
	n = snprintf(line, sizeof(line), "mark %s %s\n", id, what);
	if (n > 0 && n < (int)sizeof(line) && write(fd, line, (size_t)n) != n)
		die("write mark");
}

/* tx_packets of @dev from an open /proc/net/dev, or -1 */
static long long read_tx_packets(int fd, const char *dev)
{
	char buf[16384], *line, *save = NULL;
	size_t got = 0;
	ssize_t r;

	while (got < sizeof(buf) - 1) {
		r = pread(fd, buf + got, sizeof(buf) - 1 - got, (off_t)got);
		if (r < 0)
			die("read /proc/net/dev");
		if (r == 0)
			break;
		got += (size_t)r;
	}
	buf[got] = 0;
	for (line = strtok_r(buf, "\n", &save); line;
	     line = strtok_r(NULL, "\n", &save)) {
		char *colon = strchr(line, ':'), *name = line;
		unsigned long long v[16];

		if (!colon)
			continue;
		*colon = 0;
		while (*name == ' ')
			name++;
		if (strcmp(name, dev))
			continue;
		if (sscanf(colon + 1,
			   "%llu %llu %llu %llu %llu %llu %llu %llu %llu %llu",
			   &v[0], &v[1], &v[2], &v[3], &v[4], &v[5], &v[6],
			   &v[7], &v[8], &v[9]) != 10)
			return -1;
		return (long long)v[9];
	}
	return -1;
}

/* an interface to send by, and the gateway interface that counts */
struct path {
	const char *dev, *count_netns, *count_dev;
	uint8_t dmac[6];
	int fd, cfd;
};

static struct path paths[PATHS];
static unsigned int npaths = 1;

static void parse_path(const char *arg)
{
	static char buf[PATHS][256];
	char *b, *f[4], *save = NULL;
	struct path *pa;
	unsigned int i;

	if (npaths >= PATHS)
		usage("too many --path");
	b = buf[npaths];
	pa = &paths[npaths];
	snprintf(b, sizeof(buf[0]), "%s", arg);
	for (i = 0; i < 4; i++) {
		f[i] = strtok_r(i ? NULL : b, ",", &save);
		if (!f[i])
			usage("--path DEV,DST-MAC,COUNT-NS,COUNT-DEV");
	}
	pa->dev = f[0];
	parse_mac(f[1], pa->dmac);
	pa->count_netns = f[2];
	pa->count_dev = f[3];
	npaths++;
}

struct variant {
	char name[32];
	uint32_t saddr;
	int esp, sink, swap;
	unsigned int path;
	struct iovec iov[NFRAMES];
	struct mmsghdr msgs[NFRAMES + BATCH_MAX];
	unsigned int pos;
	unsigned long long sent, counted;	/* measured time only */
	double secs;
	unsigned long long c_sent, c_counted;	/* this cycle */
	double c_secs;
};

static struct variant var[VMAX];
static uint8_t frames[VMAX][NFRAMES][FRAME_MAX];

static void parse_variant(struct variant *v, const char *arg)
{
	char buf[128], *p, *save = NULL, *tok;

	snprintf(buf, sizeof(buf), "%s", arg);
	p = strchr(buf, '=');
	if (!p || p == buf || (size_t)(p - buf) >= sizeof(v->name))
		usage("--variant NAME=SRC[,esp][,sink][,swap][,path=N]");
	*p++ = 0;
	memcpy(v->name, buf, (size_t)(p - buf));	/* length checked above */
	tok = strtok_r(p, ",", &save);
	if (!tok)
		usage("--variant needs a source address");
	v->saddr = parse_ip4(tok);
	while ((tok = strtok_r(NULL, ",", &save))) {
		if (!strcmp(tok, "esp"))
			v->esp = 1;
		else if (!strcmp(tok, "sink"))
			v->sink = 1;
		else if (!strcmp(tok, "swap"))
			v->swap = 1;
		else if (!strncmp(tok, "path=", 5))
			v->path = (unsigned int)strtoul(tok + 5, NULL, 10);
		else
			usage("--variant flags: esp, sink, swap, path=N");
	}
}

/* one slice of variant @v: send for @secs; returns what it counted */
static void run_slice(struct variant *v, unsigned int batch, double secs,
		      int measure)
{
	const struct path *pa = &paths[v->path];
	int fd = pa->fd, cfd = pa->cfd;
	const char *count_dev = pa->count_dev;
	long long c0 = 0, c1 = 0;
	static const struct timespec pause = { 0, 200000 };
	unsigned long long sent = 0;
	double t0, t;
	int i;

	if (!v->sink && cfd >= 0)
		c0 = read_tx_packets(cfd, count_dev);
	t = t0 = now();
	do {
		int r = sendmmsg(fd, v->msgs + v->pos, batch, 0);

		if (r < 0) {
			if (errno == ENOBUFS || errno == EAGAIN || errno == EINTR)
				continue;
			die("sendmmsg");
		}
		sent += (unsigned int)r;
		v->pos = (v->pos + (unsigned int)r) % NFRAMES;
		t = now();
	} while (t - t0 < secs);
	/*
	 * A veth hands long bursts of receive work to ksoftirqd on this
	 * CPU: let it finish before the slice ends, or those SYNs would be
	 * charged to the next slice (or to nobody, when that one counts on
	 * another path).  The slice's time includes the wait.
	 */
	c1 = c0;
	for (i = 0; i < 100; i++) {
		long long c;

		nanosleep(&pause, NULL);
		if (v->sink || cfd < 0)
			break;
		c = read_tx_packets(cfd, count_dev);
		if (i && c == c1)
			break;
		c1 = c;
	}
	t = now();
	if (!measure)
		return;
	v->c_sent += sent;
	v->c_counted += v->sink || cfd < 0 ? sent : (unsigned long long)(c1 - c0);
	v->c_secs += t - t0;
}

int main(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "netns", required_argument, NULL, 'n' },
		{ "dev", required_argument, NULL, 'd' },
		{ "src-mac", required_argument, NULL, 'M' },
		{ "dst-mac", required_argument, NULL, 'm' },
		{ "sink-mac", required_argument, NULL, 'x' },
		{ "dst", required_argument, NULL, 't' },
		{ "variant", required_argument, NULL, 'v' },
		{ "dport", required_argument, NULL, 'p' },
		{ "mss", required_argument, NULL, 'S' },
		{ "layout", required_argument, NULL, 'l' },
		{ "spi", required_argument, NULL, 'e' },
		{ "outer-src", required_argument, NULL, 'o' },
		{ "outer-dst", required_argument, NULL, 'O' },
		{ "count-netns", required_argument, NULL, 'c' },
		{ "count-dev", required_argument, NULL, 'C' },
		{ "seconds", required_argument, NULL, 'T' },
		{ "slice", required_argument, NULL, 's' },
		{ "warmup", required_argument, NULL, 'w' },
		{ "cpu", required_argument, NULL, 'u' },
		{ "batch", required_argument, NULL, 'b' },
		{ "mark", required_argument, NULL, 'k' },
		{ "path", required_argument, NULL, 'P' },
		{ "mark-id", required_argument, NULL, 'K' },
		{ NULL, 0, NULL, 0 },
	};
	const char *netns = NULL, *dev = NULL, *layout = "linux";
	const char *count_netns = NULL, *count_dev = NULL;
	const char *mark = NULL, *mark_id = "syn";
	uint8_t smac[6], sinkmac[6];
	int have_smac = 0, have_dmac = 0, have_sink = 0, cpu = -1;
	int mfd = -1, c, one = 1;
	uint32_t daddr = 0, osrc = 0, odst = 0, spi = 0;
	unsigned int dport = 80, mss = 1460, batch = 64, nvar = 0, i, k;
	unsigned int cycles, cycle, ord[VMAX];
	double seconds = 10, slice = 0.1, warmup = 0.5;
	struct sockaddr_ll sll;
	struct path *pa;

	while ((c = getopt_long(argc, argv, "", opts, NULL)) != -1) {
		switch (c) {
		case 'n': netns = optarg; break;
		case 'd': dev = optarg; break;
		case 'M': parse_mac(optarg, smac); have_smac = 1; break;
		case 'm': parse_mac(optarg, paths[0].dmac); have_dmac = 1; break;
		case 'x': parse_mac(optarg, sinkmac); have_sink = 1; break;
		case 't': daddr = parse_ip4(optarg); break;
		case 'v':
			if (nvar >= VMAX)
				usage("too many variants");
			parse_variant(&var[nvar++], optarg);
			break;
		case 'p': dport = (unsigned int)strtoul(optarg, NULL, 0); break;
		case 'S': mss = (unsigned int)strtoul(optarg, NULL, 0); break;
		case 'l': layout = optarg; break;
		case 'e': spi = (uint32_t)strtoul(optarg, NULL, 0); break;
		case 'o': osrc = parse_ip4(optarg); break;
		case 'O': odst = parse_ip4(optarg); break;
		case 'c': count_netns = optarg; break;
		case 'C': count_dev = optarg; break;
		case 'T': seconds = strtod(optarg, NULL); break;
		case 's': slice = strtod(optarg, NULL); break;
		case 'w': warmup = strtod(optarg, NULL); break;
		case 'u': cpu = atoi(optarg); break;
		case 'b': batch = (unsigned int)strtoul(optarg, NULL, 0); break;
		case 'k': mark = optarg; break;
		case 'P': parse_path(optarg); break;
		case 'K': mark_id = optarg; break;
		default: usage("bad option");
		}
	}
	if (!dev || !have_smac || !have_dmac || !daddr || !nvar)
		usage("--dev, --src-mac, --dst-mac, --dst and a --variant are needed");
	if (!!count_netns != !!count_dev)
		usage("--count-netns and --count-dev go together");
	if (batch < 1 || batch > BATCH_MAX || seconds <= 0 || slice <= 0 ||
	    warmup < 0)
		usage("bad --batch, --seconds, --slice or --warmup");
	for (k = 0; k < nvar; k++) {
		if (var[k].esp && (!spi || !osrc || !odst))
			usage("an esp variant needs --spi, --outer-src and --outer-dst");
		if (var[k].sink && !have_sink)
			usage("a sink variant needs --sink-mac");
		if (var[k].path >= npaths)
			usage("a variant's path=N needs N --path options");
	}

	if (cpu >= 0) {
		cpu_set_t set;

		CPU_ZERO(&set);
		CPU_SET(cpu, &set);
		if (sched_setaffinity(0, sizeof(set), &set))
			die("sched_setaffinity");
	}
	if (mark) {
		mfd = open(mark, O_WRONLY | O_NOCTTY | O_CLOEXEC);
		if (mfd < 0)
			die(mark);
	}
	paths[0].dev = dev;
	paths[0].count_netns = count_netns;
	paths[0].count_dev = count_dev;
	for (k = 0; k < npaths; k++) {
		pa = &paths[k];
		pa->cfd = -1;
		if (!pa->count_netns)
			continue;
		enter_netns(pa->count_netns);
		pa->cfd = open("/proc/self/net/dev", O_RDONLY | O_CLOEXEC);
		if (pa->cfd < 0)
			die("/proc/self/net/dev");
		if (read_tx_packets(pa->cfd, pa->count_dev) < 0) {
			fprintf(stderr, "synflood: no device %s in netns %s\n",
				pa->count_dev, pa->count_netns);
			return 1;
		}
	}
	if (netns)
		enter_netns(netns);

	for (k = 0; k < npaths; k++) {
		pa = &paths[k];
		/* protocol 0: this socket never receives anything */
		pa->fd = socket(AF_PACKET, SOCK_RAW | SOCK_CLOEXEC, 0);
		if (pa->fd < 0)
			die("socket(AF_PACKET)");
		memset(&sll, 0, sizeof(sll));
		sll.sll_family = AF_PACKET;
		sll.sll_ifindex = (int)if_nametoindex(pa->dev);
		if (!sll.sll_ifindex)
			die(pa->dev);
		if (bind(pa->fd, (struct sockaddr *)&sll, sizeof(sll)))
			die("bind");
		/* veth has no qdisc anyway; skip the layer when it is there */
		(void)setsockopt(pa->fd, SOL_PACKET, PACKET_QDISC_BYPASS, &one,
				 sizeof(one));
	}

	srand((unsigned int)getpid());
	for (k = 0; k < nvar; k++) {
		struct variant *v = &var[k];

		for (i = 0; i < NFRAMES; i++) {
			uint8_t *f = frames[k][i], *ip = f + 14;
			unsigned int len, sport = 10000 + i * 211 % 50000;
			uint32_t seq = (uint32_t)rand() * 2654435761u;

			memcpy(f, v->sink ? sinkmac : paths[v->path].dmac, 6);
			memcpy(f + 6, smac, 6);
			put16(f + 12, ETHERTYPE_IP);
			if (v->esp) {
				uint8_t *esp = ip + 20, *inner = esp + 8;
				unsigned int pad, j;

				len = build_syn(inner, v->saddr, daddr, sport,
						dport, seq, layout, mss, i);
				/* payload + pad length + next header, to 4 bytes */
				pad = (4 - (len + 2) % 4) % 4;
				for (j = 0; j < pad; j++)
					inner[len + j] = (uint8_t)(j + 1);
				inner[len + pad] = (uint8_t)pad;
				inner[len + pad + 1] = 4;	/* IPv4 inside */
				put32(esp, spi);
				put32(esp + 4, i + 1);		/* never 0 */
				len = 20 + 8 + len + pad + 2;
				ip4_header(ip, len, 50, osrc, odst, i);
			} else {
				len = build_syn(ip, v->saddr, daddr, sport, dport,
						seq, layout, mss, i);
			}
			if (14 + len > FRAME_MAX)
				usage("frame too long");
			v->iov[i].iov_base = f;
			v->iov[i].iov_len = 14 + len;
		}
		/* the ring repeated past its end: any batch is contiguous */
		for (i = 0; i < NFRAMES + BATCH_MAX; i++) {
			v->msgs[i].msg_hdr.msg_iov = &v->iov[i % NFRAMES];
			v->msgs[i].msg_hdr.msg_iovlen = 1;
		}
	}

	for (k = 0; k < nvar; k++)
		run_slice(&var[k], batch, warmup / nvar, 0);

	cycles = (unsigned int)(seconds / (2 * nvar * slice) + 0.5);
	if (cycles < 1)
		cycles = 1;
	put_mark(mfd, mark_id, "start");
	for (cycle = 1; cycle <= cycles; cycle++) {
		for (i = 0; i < nvar; i++)
			ord[i] = i;
		for (i = 0; !(cycle & 1) && i + 1 < nvar; i++) {
			if (var[i].swap) {
				ord[i] = i + 1;
				ord[i + 1] = i;
				i++;
			}
		}
		for (i = 0; i < 2 * nvar; i++) {
			k = ord[i < nvar ? i : 2 * nvar - 1 - i];
			run_slice(&var[k], batch, slice, 1);
		}
		printf("cycle %u", cycle);
		for (k = 0; k < nvar; k++) {
			struct variant *v = &var[k];

			printf(" %s=%.0f", v->name,
			       v->c_secs > 0 ? (double)v->c_counted / v->c_secs : 0);
			v->sent += v->c_sent;
			v->counted += v->c_counted;
			v->secs += v->c_secs;
			v->c_sent = v->c_counted = 0;
			v->c_secs = 0;
		}
		printf("\n");
	}
	put_mark(mfd, mark_id, "end");
	for (k = 0; k < nvar; k++)
		printf("total %s sent=%llu counted=%llu secs=%.3f rate=%.0f\n",
		       var[k].name, var[k].sent, var[k].counted, var[k].secs,
		       var[k].secs > 0 ? (double)var[k].counted / var[k].secs : 0);
	return 0;
}
