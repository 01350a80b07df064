#include <rte_errno.h>

int gw_rte_errno(void) { return rte_errno; }
