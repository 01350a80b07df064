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
