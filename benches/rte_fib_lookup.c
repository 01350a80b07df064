/* DPDK's rte_fib (DIR24_8) and rte_fib6 (TRIE) on the tables of
 * stack/benches/fib.rs: the same 1,000,000 IPv4 and 200,000 IPv6
 * prefixes (the same generator, the same length mix), looked up for the
 * same 1,024 addresses (one in each of 1,024 random prefixes), in bulks
 * of 32 as a worker's burst. Prints
 *   rte_fib v4_lookup_ns=X v6_lookup_ns=Y routes=N routes6=M
 * benches/fib_lookup.sh builds and runs it beside our FIBs' figures.
 *
 *   rte_fib_lookup --no-huge --no-pci -m 3072 -l 0 --file-prefix P
 */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <rte_eal.h>
#include <rte_errno.h>
#include <rte_memory.h>
#include <rte_fib.h>
#include <rte_fib6.h>

static uint64_t state;

static uint64_t next(void)
{
	state ^= state << 13;
	state ^= state >> 7;
	state ^= state << 17;
	return state;
}

/* Share of each prefix length in thousandths; the rest /24 (or /48). */
static const uint8_t v4_len[] = {10, 12, 13, 14, 15, 16, 17, 18, 19, 20, 21, 22, 23, 25, 26, 27, 28, 29, 30, 32, 24};
static const uint32_t v4_per[] = {1, 1, 1, 2, 3, 12, 10, 20, 30, 50, 50, 100, 90, 4, 4, 3, 2, 2, 1, 1, 0};
static const uint8_t v6_len[] = {29, 32, 36, 40, 44, 46, 47, 56, 64, 48};
static const uint32_t v6_per[] = {10, 120, 40, 60, 70, 30, 20, 50, 50, 0};

struct p4 { uint32_t a; uint8_t len; };
struct p6 { uint8_t a[16]; uint8_t len; };

static double now_ns(void)
{
	struct timespec t;
	clock_gettime(CLOCK_MONOTONIC, &t);
	return t.tv_sec * 1e9 + t.tv_nsec;
}

static size_t fill(const uint32_t *per, size_t k, size_t n, size_t *counts)
{
	uint32_t sum = 0;
	size_t total = 0;
	for (size_t i = 0; i + 1 < k; i++)
		sum += per[i];
	for (size_t i = 0; i < k; i++) {
		counts[i] = n * (i + 1 < k ? per[i] : 1000 - sum) / 1000;
		total += counts[i];
	}
	return total;
}

int main(int argc, char **argv)
{
	int n = rte_eal_init(argc, argv);
	if (n < 0) {
		fprintf(stderr, "rte_eal_init: %s\n", rte_strerror(rte_errno));
		return 1;
	}
	enum { V4 = 1000000, V6 = 200000, DSTS = 1024, BULK = 32, ROUNDS = 20000 };
	size_t counts[32];

	/* IPv4: as prefixes(1_000_000, false) in stack/benches/fib.rs. */
	state = 0x2545f4914f6cdd1dULL;
	size_t n4 = fill(v4_per, sizeof v4_per / sizeof *v4_per, V4, counts);
	struct p4 *t4 = malloc(n4 * sizeof *t4);
	size_t at = 0;
	for (size_t i = 0; i < sizeof v4_len; i++)
		for (size_t j = 0; j < counts[i]; j++) {
			uint64_t hi = (11 + next() % 116) << 24;
			uint32_t a = (uint32_t)(hi | (next() & 0xffffff));
			uint8_t len = v4_len[i];
			t4[at].a = len == 32 ? a : a & ~(0xffffffffu >> len);
			t4[at++].len = len;
		}
	/* IPv6: as prefixes(200_000, true). */
	size_t n6 = fill(v6_per, sizeof v6_per / sizeof *v6_per, V6, counts);
	struct p6 *t6 = malloc(n6 * sizeof *t6);
	at = 0;
	for (size_t i = 0; i < sizeof v6_len; i++)
		for (size_t j = 0; j < counts[i]; j++) {
			uint64_t top = 0x2400 + next() % 0x400, mid = next();
			/* (top << 112 | mid << 48) masked to len bits */
			uint8_t b[16] = {0};
			b[0] = top >> 8;
			b[1] = top & 0xff;
			for (int k = 0; k < 8; k++) /* mid << 48: bytes 2..9 */
				b[2 + k] = (mid >> (56 - 8 * k)) & 0xff;
			uint8_t len = v6_len[i];
			for (int bit = len; bit < 128; bit++)
				b[bit / 8] &= ~(0x80 >> (bit % 8));
			memcpy(t6[at].a, b, 16);
			t6[at++].len = len;
		}

	struct rte_fib_conf c4 = {.type = RTE_FIB_DIR24_8, .default_nh = 0, .max_routes = 1 << 21};
	c4.dir24_8.nh_sz = RTE_FIB_DIR24_8_4B;
	c4.dir24_8.num_tbl8 = 1 << 15;
	struct rte_fib *f4 = rte_fib_create("bench4", SOCKET_ID_ANY, &c4);
	struct rte_fib6_conf c6 = {.type = RTE_FIB6_TRIE, .default_nh = 0, .max_routes = 1 << 19};
	c6.trie.nh_sz = RTE_FIB6_TRIE_4B;
	c6.trie.num_tbl8 = 1 << 20;
	struct rte_fib6 *f6 = rte_fib6_create("bench6", SOCKET_ID_ANY, &c6);
	if (!f4 || !f6) {
		fprintf(stderr, "rte_fib_create: %s\n", rte_strerror(rte_errno));
		return 1;
	}
	for (size_t i = 0; i < n4; i++)
		if (rte_fib_add(f4, t4[i].a, t4[i].len, 1) < 0) {
			fprintf(stderr, "rte_fib_add: %s\n", rte_strerror(rte_errno));
			return 1;
		}
	for (size_t i = 0; i < n6; i++)
		if (rte_fib6_add(f6, t6[i].a, t6[i].len, 1) < 0) {
			fprintf(stderr, "rte_fib6_add: %s\n", rte_strerror(rte_errno));
			return 1;
		}

	/* The addresses: as the lookup benches pick them. */
	static uint32_t d4[DSTS];
	static uint8_t d6[DSTS][16];
	state = 0x9e3779b97f4a7c15ULL;
	for (int i = 0; i < DSTS; i++) {
		struct p4 *r = &t4[next() % n4];
		uint32_t host = r->len == 32 ? 0 : 0xffffffffu >> r->len;
		d4[i] = r->a | ((uint32_t)next() & host);
	}
	for (int i = 0; i < DSTS; i++) {
		struct p6 *r = &t6[next() % n6];
		memcpy(d6[i], r->a, 16);
		d6[i][15] |= 1 + next() % 254; /* every prefix is /64 or shorter */
	}
	uint64_t nh[BULK], sum = 0;
	double t0 = now_ns();
	for (int r = 0; r < ROUNDS; r++)
		for (int i = 0; i < DSTS; i += BULK) {
			rte_fib_lookup_bulk(f4, &d4[i], nh, BULK);
			sum += nh[0] + nh[BULK - 1];
		}
	double v4ns = (now_ns() - t0) / ((double)ROUNDS * DSTS);
	t0 = now_ns();
	for (int r = 0; r < ROUNDS / 4; r++)
		for (int i = 0; i < DSTS; i += BULK) {
			rte_fib6_lookup_bulk(f6, &d6[i], nh, BULK);
			sum += nh[0] + nh[BULK - 1];
		}
	double v6ns = (now_ns() - t0) / ((double)(ROUNDS / 4) * DSTS);
	if (sum != (uint64_t)ROUNDS * DSTS / BULK * 2 + (uint64_t)(ROUNDS / 4) * DSTS / BULK * 2) {
		fprintf(stderr, "a lookup missed its route\n");
		return 1;
	}
	printf("rte_fib v4_lookup_ns=%.2f v6_lookup_ns=%.2f routes=%zu routes6=%zu\n", v4ns, v6ns, n4, n6);
	rte_fib_free(f4);
	rte_fib6_free(f6);
	rte_eal_cleanup();
	return 0;
}
