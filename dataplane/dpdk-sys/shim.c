#include <rte_errno.h>

int gw_rte_errno(void) { return rte_errno; }

#include <stdio.h>
#include <rte_ring.h>
#include <rte_eth_ring.h>

int gw_ring_pair(const char *a, const char *b, unsigned int size, int socket, uint16_t *pa, uint16_t *pb)
{
    char name[RTE_RING_NAMESIZE];
    snprintf(name, sizeof name, "%s_tx", a);
    struct rte_ring *ab = rte_ring_create(name, size, socket, RING_F_SP_ENQ | RING_F_SC_DEQ);
    snprintf(name, sizeof name, "%s_tx", b);
    struct rte_ring *ba = rte_ring_create(name, size, socket, RING_F_SP_ENQ | RING_F_SC_DEQ);
    if (ab == NULL || ba == NULL)
        return -rte_errno;
    int x = rte_eth_from_rings(a, &ba, 1, &ab, 1, socket);
    if (x < 0)
        return -rte_errno;
    int y = rte_eth_from_rings(b, &ab, 1, &ba, 1, socket);
    if (y < 0)
        return -rte_errno;
    *pa = (uint16_t)x;
    *pb = (uint16_t)y;
    return 0;
}
