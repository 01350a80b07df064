/* The latency probe of benches/run.sh latency: a library loaded into a
 * DPDK program with LD_PRELOAD (gatewayd and l3fwd alike), which times
 * each frame from the RX burst that brought it in to the TX burst that
 * sends it out.
 *
 * It wraps rte_eth_dev_start: once a port has started, every RX queue
 * gets a callback that stamps each frame received with the TSC of its
 * burst (in an mbuf dynamic field), and every TX queue a callback that
 * takes the stamp of each frame sent and counts the time in a histogram
 * of 10 ns buckets, up to 2 ms (longer in the last bucket). The
 * callbacks run inside rte_eth_rx_burst and rte_eth_tx_burst, right
 * after the driver's receive and right before the driver's send, the
 * same code in both programs.
 *
 * The histogram lives in the file LATENCY_FILE (mapped shared), so that
 * the harness reads it while the program runs: a header of four u64
 * (magic, bucket width in ns, bucket count, TSC Hz) and a u64 count
 * per bucket. One writer: a single worker or lcore.
 *
 * A frame the program made itself (ARP, ICMP) has no stamp of this
 * life: the stamp is a value and its complement, cleared on send, so
 * a stale one is rare and a random one never matches.
 */
#define _GNU_SOURCE
#include <dlfcn.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/mman.h>
#include <unistd.h>

#include <rte_cycles.h>
#include <rte_ethdev.h>
#include <rte_mbuf.h>
#include <rte_mbuf_dyn.h>

#define BUCKET_NS 10
#define BUCKETS 200000
#define MAGIC 0x6c6174656e637931ULL /* "latency1" */

struct stamp {
	uint64_t tsc;
	uint64_t check; /* ~tsc while the stamp is live */
};

static int offset = -1;
static volatile uint64_t *hist; /* header, then BUCKETS counts */
static double ns_per_cycle;

static int setup(void)
{
	static const struct rte_mbuf_dynfield field = {
		.name = "bench_latency_stamp",
		.size = sizeof(struct stamp),
		.align = __alignof__(struct stamp),
	};
	const char *path = getenv("LATENCY_FILE");
	size_t bytes = (4 + BUCKETS) * sizeof(uint64_t);
	int fd;
	void *map;

	if (offset >= 0)
		return 0;
	if (path == NULL) {
		fprintf(stderr, "latency_probe: LATENCY_FILE is not set\n");
		return -1;
	}
	offset = rte_mbuf_dynfield_register(&field);
	if (offset < 0) {
		fprintf(stderr, "latency_probe: no room for the mbuf field\n");
		return -1;
	}
	fd = open(path, O_RDWR | O_CREAT | O_TRUNC, 0644);
	if (fd < 0 || ftruncate(fd, bytes) != 0) {
		perror("latency_probe: LATENCY_FILE");
		return -1;
	}
	map = mmap(NULL, bytes, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
	close(fd);
	if (map == MAP_FAILED) {
		perror("latency_probe: mmap");
		return -1;
	}
	hist = map;
	hist[1] = BUCKET_NS;
	hist[2] = BUCKETS;
	hist[3] = rte_get_tsc_hz();
	hist[0] = MAGIC;
	ns_per_cycle = 1e9 / (double)rte_get_tsc_hz();
	return 0;
}

static uint16_t on_rx(uint16_t port, uint16_t queue, struct rte_mbuf **pkts,
		      uint16_t n, uint16_t max, void *arg)
{
	uint64_t now = rte_rdtsc();
	uint16_t i;

	(void)port, (void)queue, (void)max, (void)arg;
	for (i = 0; i < n; i++) {
		struct stamp *s = RTE_MBUF_DYNFIELD(pkts[i], offset, struct stamp *);
		s->tsc = now;
		s->check = ~now;
	}
	return n;
}

static uint16_t on_tx(uint16_t port, uint16_t queue, struct rte_mbuf **pkts,
		      uint16_t n, void *arg)
{
	uint64_t now = rte_rdtsc();
	volatile uint64_t *count = hist + 4;
	uint16_t i;

	(void)port, (void)queue, (void)arg;
	for (i = 0; i < n; i++) {
		struct stamp *s = RTE_MBUF_DYNFIELD(pkts[i], offset, struct stamp *);
		uint64_t b;

		if (s->check != ~s->tsc)
			continue;
		b = (uint64_t)((double)(now - s->tsc) * ns_per_cycle) / BUCKET_NS;
		count[b < BUCKETS ? b : BUCKETS - 1]++;
		s->check = s->tsc; /* spent */
	}
	return n;
}

int rte_eth_dev_start(uint16_t port)
{
	static int (*real)(uint16_t);
	struct rte_eth_dev_info info;
	uint16_t q;
	int ret;

	if (real == NULL)
		real = (int (*)(uint16_t))dlsym(RTLD_NEXT, "rte_eth_dev_start");
	ret = real(port);
	if (ret != 0 || setup() != 0 || rte_eth_dev_info_get(port, &info) != 0)
		return ret;
	for (q = 0; q < info.nb_rx_queues; q++)
		if (rte_eth_add_rx_callback(port, q, on_rx, NULL) == NULL)
			fprintf(stderr, "latency_probe: port %u rx queue %u: no callback\n", port, q);
	for (q = 0; q < info.nb_tx_queues; q++)
		if (rte_eth_add_tx_callback(port, q, on_tx, NULL) == NULL)
			fprintf(stderr, "latency_probe: port %u tx queue %u: no callback\n", port, q);
	return ret;
}
