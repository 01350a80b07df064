/* The floor of benches/run.sh io_floor: what the drivers alone cost.
 * Receives bursts of 32 on port 0 and sends them on port 1 untouched,
 * on one lcore, until SIGINT or SIGTERM: the rate a program that does
 * nothing to its frames gets from the same ports, pool and core as
 * gatewayd and l3fwd (16,383 mbufs, a cache of 256, default data room).
 *
 *   io_floor EAL_ARGS   (two ports: the frames' source, then the sink)
 *
 * Frames a full port refused are freed.
 */
#include <signal.h>
#include <string.h>

#include <rte_eal.h>
#include <rte_ethdev.h>
#include <rte_lcore.h>
#include <rte_mbuf.h>

#define BURST 32

static volatile int quit;

static void on_signal(int sig) {
  (void)sig;
  quit = 1;
}

int main(int argc, char **argv) {
  if (rte_eal_init(argc, argv) < 0) return 1;
  signal(SIGINT, on_signal);
  signal(SIGTERM, on_signal);
  if (rte_eth_dev_count_avail() < 2) return 2;
  struct rte_mempool *pool =
      rte_pktmbuf_pool_create("io_floor", 16383, 256, 0, RTE_MBUF_DEFAULT_BUF_SIZE, (int)rte_socket_id());
  if (pool == NULL) return 3;
  struct rte_eth_conf conf;
  memset(&conf, 0, sizeof conf);
  for (uint16_t p = 0; p < 2; p++) {
    if (rte_eth_dev_configure(p, 1, 1, &conf) < 0 ||
        rte_eth_rx_queue_setup(p, 0, 1024, rte_socket_id(), NULL, pool) < 0 ||
        rte_eth_tx_queue_setup(p, 0, 1024, rte_socket_id(), NULL) < 0 || rte_eth_dev_start(p) < 0)
      return 4;
  }
  struct rte_mbuf *burst[BURST];
  while (!quit) {
    uint16_t n = rte_eth_rx_burst(0, 0, burst, BURST);
    uint16_t sent = rte_eth_tx_burst(1, 0, burst, n);
    for (uint16_t i = sent; i < n; i++) rte_pktmbuf_free(burst[i]);
  }
  for (uint16_t p = 0; p < 2; p++) {
    rte_eth_dev_stop(p);
    rte_eth_dev_close(p);
  }
  rte_eal_cleanup();
  return 0;
}
