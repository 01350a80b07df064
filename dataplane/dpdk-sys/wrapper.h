/* Everything the gateway needs from DPDK, in one header for bindgen. */
#include <rte_config.h>
#include <rte_eal.h>
#include <rte_errno.h>
#include <rte_lcore.h>
#include <rte_cycles.h>
#include <rte_mempool.h>
#include <rte_mbuf.h>
#include <rte_ethdev.h>
#include <rte_ether.h>
#include <rte_bus_vdev.h>
#include <rte_thread.h>

/* Shim for what bindgen cannot reach: rte_errno is a per-lcore TLS macro. */
int gw_rte_errno(void);

/* Two ports joined by a pair of rings, each one's TX the other's RX: a
 * cable in memory between two workers, for benchmarks (net_ring). Their
 * port ids in *pa and *pb; 0, or a negative errno. */
int gw_ring_pair(const char *a, const char *b, unsigned int size, int socket, uint16_t *pa, uint16_t *pb);

/* A share of m's buffer to send while m keeps it (TCP's send queue), or
 * NULL; and whether m's bytes are its own alone. */
struct rte_mbuf *gw_mbuf_share(struct rte_mbuf *m);
int gw_mbuf_private(const struct rte_mbuf *m);
int gw_mbuf_chain(struct rte_mbuf *head, struct rte_mbuf *tail);
