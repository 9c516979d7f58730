/*
 * Test vectors for IPv6 connection sync entries, written independently of
 * ulvs's Go encoder: a v1 sync message (struct ip_vs_sync_mesg) holding
 * IPv6 entries laid out as struct ip_vs_sync_v6 of the kernel's
 * net/netfilter/ipvs/ip_vs_sync.c (type, protocol, ver_size, flags,
 * state, cport, vport, dport, fwmark, timeout, then three struct in6_addr;
 * 72 bytes), filled the way ip_vs_sync_conn fills it: type STYPE_F_INET6
 * (1), ver_size the entry length with version 0, every field in network
 * order, IPVS_OPT_SEQ_DATA after the addresses, each entry starting on a
 * 4-byte boundary.
 *
 * The structs below are declared here from the kernel's field list (with
 * static assertions on their size and offsets); nothing is included from
 * the kernel. Build and run: cc -o /tmp/v6 sync_v6_layout.c && /tmp/v6
 * (ipvssync's TestIPv6KernelLayout does, when a C compiler is present,
 * and compares with sync-v6-layout.hex).
 */
#include <arpa/inet.h>
#include <assert.h>
#include <netinet/in.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

struct mesg_hdr { /* struct ip_vs_sync_mesg */
	uint8_t reserved;
	uint8_t syncid;
	uint16_t size;
	uint8_t nr_conns;
	int8_t version;
	uint16_t spare;
};

struct sync_v6 { /* struct ip_vs_sync_v6 */
	uint8_t type;
	uint8_t protocol;
	uint16_t ver_size;
	uint32_t flags;
	uint16_t state;
	uint16_t cport;
	uint16_t vport;
	uint16_t dport;
	uint32_t fwmark;
	uint32_t timeout;
	struct in6_addr caddr;
	struct in6_addr vaddr;
	struct in6_addr daddr;
};

struct seq { uint32_t init_seq, delta, previous_delta; };

static_assert(sizeof(struct mesg_hdr) == 8, "ip_vs_sync_mesg");
static_assert(sizeof(struct sync_v6) == 72, "ip_vs_sync_v6");
static_assert(offsetof(struct sync_v6, caddr) == 24, "caddr");
static_assert(offsetof(struct sync_v6, daddr) == 56, "daddr");

static unsigned char buf[1024];

static size_t put_entry(size_t off, uint8_t proto, uint32_t flags, uint16_t state,
			const char *c, uint16_t cport, const char *v, uint16_t vport,
			const char *d, uint16_t dport, uint32_t fwmark, uint32_t timeout,
			const struct seq *in, const struct seq *out)
{
	struct sync_v6 s;
	unsigned int len = sizeof(s);

	off += (4 - off) & 3; /* the kernel pads the previous entry to 4 bytes */
	if (in)
		len += 2 + 2 * sizeof(struct seq);
	memset(&s, 0, sizeof(s));
	s.type = 1; /* STYPE_F_INET6 */
	s.protocol = proto;
	s.ver_size = htons(len & 0x0fff);
	s.flags = htonl(flags);
	s.state = htons(state);
	s.cport = htons(cport);
	s.vport = htons(vport);
	s.dport = htons(dport);
	s.fwmark = htonl(fwmark);
	s.timeout = htonl(timeout);
	if (inet_pton(AF_INET6, c, &s.caddr) != 1 || inet_pton(AF_INET6, v, &s.vaddr) != 1 ||
	    inet_pton(AF_INET6, d, &s.daddr) != 1)
		return 0;
	memcpy(buf + off, &s, sizeof(s));
	off += sizeof(s);
	if (in) {
		const struct seq *q[2] = {in, out};
		buf[off++] = 1; /* IPVS_OPT_SEQ_DATA */
		buf[off++] = 2 * sizeof(struct seq);
		for (int i = 0; i < 2; i++) {
			uint32_t w[3] = {htonl(q[i]->init_seq), htonl(q[i]->delta), htonl(q[i]->previous_delta)};
			memcpy(buf + off, w, sizeof(w));
			off += sizeof(w);
		}
	}
	return off;
}

int main(void)
{
	struct mesg_hdr h;
	struct seq in = {0x01020304, 5, 6}, out = {0xa0b0c0d0, 0xfffffff0, 7};
	size_t off = sizeof(h);

	/* DR, established, 900 s: [2001:db8:77::2]:41001 -> [2001:db8:77::100]:80 -> [2001:db8:77::11]:80 */
	off = put_entry(off, 6, 0x0003 | 0x0080, 1, "2001:db8:77::2", 41001, "2001:db8:77::100", 80,
			"2001:db8:77::11", 80, 0, 900, NULL, NULL);
	/* NAT66 UDP, 300 s, fwmark 5 */
	off = put_entry(off, 17, 0x0000, 0, "2001:db8:77::2", 5353, "2001:db8:77::100", 53,
			"2001:db8:77:1::12", 5300, 5, 300, NULL, NULL);
	/* a template (TEMPLATE|INACTIVE, ASSURED), client masked to /64 */
	off = put_entry(off, 6, 0x0003 | 0x0100 | 0x1000, 1, "2001:db8:77::", 0, "2001:db8:77::100", 443,
			"2001:db8:77::12", 443, 0, 360, NULL, NULL);
	/* with sequence options (IN_SEQ|OUT_SEQ), FIN_WAIT */
	off = put_entry(off, 6, 0x0000 | 0x0600, 4, "fe80::1:2", 1, "2001:db8::1", 21,
			"2001:db8::ffff:a", 21, 0, 120, &in, &out);
	if (off == 0)
		return 1;
	memset(&h, 0, sizeof(h));
	h.syncid = 7;
	h.size = htons(off);
	h.nr_conns = 4;
	h.version = 1; /* SYNC_PROTO_VER */
	memcpy(buf, &h, sizeof(h));
	for (size_t i = 0; i < off; i++)
		printf("%02x%s", buf[i], (i + 1) % 16 == 0 || i + 1 == off ? "\n" : " ");
	return 0;
}
