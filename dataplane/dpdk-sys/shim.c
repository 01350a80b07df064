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

/* A second, indirect mbuf on m's buffer (its data and headroom), for
 * sending what m keeps; NULL when m is itself indirect, has an external
 * buffer, or is shared already (a share in flight owns the headroom). */
struct rte_mbuf *gw_mbuf_share(struct rte_mbuf *m)
{
    if (!RTE_MBUF_DIRECT(m) || rte_mbuf_refcnt_read(m) != 1 || m->nb_segs != 1)
        return NULL;
    struct rte_mbuf *mi = rte_pktmbuf_alloc(m->pool);
    if (mi == NULL)
        return NULL;
    rte_pktmbuf_attach(mi, m);
    return mi;
}

/* Appends tail's segments to head's chain (as a PMD with scatter would
 * deliver a frame larger than one mbuf); 0 on success. */
int gw_mbuf_chain(struct rte_mbuf *head, struct rte_mbuf *tail)
{
    return rte_pktmbuf_chain(head, tail);
}

/* m's bytes are its own alone: a direct mbuf nobody else references. */
int gw_mbuf_private(const struct rte_mbuf *m)
{
    return RTE_MBUF_DIRECT(m) && rte_mbuf_refcnt_read(m) == 1;
}
