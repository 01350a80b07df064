/* The paced frame source of benches/run.sh latency: sends the frames of
 * a pcap, in turn and round again, out of DPDK port 0 (a memif whose
 * other end is the program measured) at a set rate.
 *
 *   latency_gen EAL_ARGS -- --pcap FILE --rate-file FILE [--stats-file FILE]
 *
 * The rate, in frames a second, is read from the rate file every 10 ms
 * (0, or no file: as fast as the port takes them), so the harness can
 * change it without a restart. Frames are due on a schedule kept from
 * the TSC and leave in bursts of at most 32; a frame the port has no
 * room for is dropped, not queued, so the load offered stays the rate.
 * After a pause (the harness stops the program between its turns) the
 * schedule restarts rather than sending what it missed all at once.
 * The stats file (mapped shared, for the harness to read while this
 * runs) holds two u64: frames sent and frames the port refused; a
 * source that has frames refused is faster than the program it feeds.
 * Frames received on the port are freed.
 */
#include <fcntl.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include <rte_cycles.h>
#include <rte_eal.h>
#include <rte_ethdev.h>
#include <rte_mbuf.h>

#define BURST 32
#define MAX_FRAMES 65536
#define MAX_LEN 2048

static volatile int quit;
static uint8_t *frames;
static uint16_t lens[MAX_FRAMES];
static unsigned nframes;

static void on_signal(int sig)
{
	(void)sig;
	quit = 1;
}

/* Reads a classic pcap file (microsecond or nanosecond, either byte
 * order) into frames[]. */
static void load_pcap(const char *path)
{
	FILE *f = fopen(path, "rb");
	uint32_t hdr[6], rec[4];
	int swap;

	if (f == NULL || fread(hdr, 4, 6, f) != 6)
		rte_exit(EXIT_FAILURE, "latency_gen: cannot read %s\n", path);
	swap = hdr[0] == 0xd4c3b2a1 || hdr[0] == 0x4d3cb2a1;
	if (!swap && hdr[0] != 0xa1b2c3d4 && hdr[0] != 0xa1b23c4d)
		rte_exit(EXIT_FAILURE, "latency_gen: %s is not a pcap file\n", path);
	frames = malloc((size_t)MAX_FRAMES * MAX_LEN);
	if (frames == NULL)
		rte_exit(EXIT_FAILURE, "latency_gen: no memory\n");
	while (nframes < MAX_FRAMES && fread(rec, 4, 4, f) == 4) {
		uint32_t len = swap ? __builtin_bswap32(rec[2]) : rec[2];

		if (len > MAX_LEN)
			rte_exit(EXIT_FAILURE, "latency_gen: a %u-byte frame\n", len);
		if (fread(frames + (size_t)nframes * MAX_LEN, 1, len, f) != len)
			break;
		lens[nframes++] = (uint16_t)len;
	}
	fclose(f);
	if (nframes == 0)
		rte_exit(EXIT_FAILURE, "latency_gen: no frames in %s\n", path);
}

/* Two u64 (sent, refused) in a shared mapping of PATH, or in memory. */
static volatile uint64_t *map_stats(const char *path)
{
	static uint64_t none[2];
	void *map;
	int fd;

	if (path == NULL)
		return none;
	fd = open(path, O_RDWR | O_CREAT | O_TRUNC, 0644);
	if (fd < 0 || ftruncate(fd, sizeof(none)) != 0)
		rte_exit(EXIT_FAILURE, "latency_gen: cannot make %s\n", path);
	map = mmap(NULL, sizeof(none), PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
	close(fd);
	if (map == MAP_FAILED)
		rte_exit(EXIT_FAILURE, "latency_gen: cannot map %s\n", path);
	return map;
}

static double read_rate(const char *path)
{
	FILE *f = path ? fopen(path, "r") : NULL;
	double rate = 0;

	if (f != NULL) {
		if (fscanf(f, "%lf", &rate) != 1)
			rate = 0;
		fclose(f);
	}
	return rate;
}

int main(int argc, char **argv)
{
	static const struct rte_eth_conf conf;
	const char *pcap = NULL, *rate_file = NULL, *stats_file = NULL;
	volatile uint64_t *stats;
	struct rte_mempool *pool;
	struct rte_mbuf *pkts[BURST];
	uint64_t hz, next_read = 0, start = 0, sent = 0;
	double rate = -1;
	unsigned cursor = 0;
	int ret, i;

	ret = rte_eal_init(argc, argv);
	if (ret < 0)
		rte_exit(EXIT_FAILURE, "latency_gen: EAL init failed\n");
	argc -= ret;
	argv += ret;
	for (i = 1; i + 1 < argc; i += 2) {
		if (strcmp(argv[i], "--pcap") == 0)
			pcap = argv[i + 1];
		else if (strcmp(argv[i], "--rate-file") == 0)
			rate_file = argv[i + 1];
		else if (strcmp(argv[i], "--stats-file") == 0)
			stats_file = argv[i + 1];
		else
			rte_exit(EXIT_FAILURE, "latency_gen: unknown argument %s\n", argv[i]);
	}
	if (pcap == NULL)
		rte_exit(EXIT_FAILURE, "latency_gen: --pcap FILE is needed\n");
	load_pcap(pcap);
	stats = map_stats(stats_file);
	signal(SIGINT, on_signal);
	signal(SIGTERM, on_signal);

	pool = rte_pktmbuf_pool_create("gen", 8191, 256, 0, RTE_MBUF_DEFAULT_BUF_SIZE, rte_socket_id());
	if (pool == NULL || rte_eth_dev_count_avail() < 1)
		rte_exit(EXIT_FAILURE, "latency_gen: no pool or no port\n");
	if (rte_eth_dev_configure(0, 1, 1, &conf) != 0 ||
	    rte_eth_rx_queue_setup(0, 0, 1024, rte_socket_id(), NULL, pool) != 0 ||
	    rte_eth_tx_queue_setup(0, 0, 1024, rte_socket_id(), NULL) != 0 ||
	    rte_eth_dev_start(0) != 0)
		rte_exit(EXIT_FAILURE, "latency_gen: port 0 does not start\n");

	hz = rte_get_tsc_hz();
	while (!quit) {
		uint64_t now = rte_rdtsc(), n;
		uint16_t got, tx;

		got = rte_eth_rx_burst(0, 0, pkts, BURST);
		if (got)
			rte_pktmbuf_free_bulk(pkts, got);
		if (now >= next_read) {
			double r = read_rate(rate_file);

			if (r != rate) {
				rate = r;
				start = now;
				sent = 0;
			}
			next_read = now + hz / 100;
		}
		if (rate <= 0) {
			n = BURST;
		} else {
			uint64_t due = (uint64_t)((double)(now - start) * rate / (double)hz);

			n = due - sent;
			if (n > 2 * BURST) { /* back from a pause */
				start = now;
				sent = 0;
				continue;
			}
			if (n > BURST)
				n = BURST;
		}
		if (n == 0)
			continue;
		if (rte_pktmbuf_alloc_bulk(pool, pkts, n) != 0)
			continue;
		for (i = 0; i < (int)n; i++) {
			uint16_t len = lens[cursor];

			memcpy(rte_pktmbuf_mtod(pkts[i], void *), frames + (size_t)cursor * MAX_LEN, len);
			pkts[i]->data_len = len;
			pkts[i]->pkt_len = len;
			if (++cursor == nframes)
				cursor = 0;
		}
		tx = rte_eth_tx_burst(0, 0, pkts, n);
		if (tx < n)
			rte_pktmbuf_free_bulk(pkts + tx, n - tx);
		sent += n;
		stats[0] += tx;
		stats[1] += n - tx;
	}
	/* No stop or cleanup: the program at the other end may be gone
	 * already, and the memif's shared memory goes with this process. */
	return 0;
}
