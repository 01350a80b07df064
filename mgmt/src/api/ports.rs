//! `/api/v1/ports`: the ports with their config, MAC, link and NIC
//! counters.

use super::*;

/// The ports routes, for [`api_routes`](super::api_routes).
pub(super) fn routes(r: OpenApiRouter<Arc<Api>>) -> OpenApiRouter<Arc<Api>> {
    r.routes(routes!(list_ports)).routes(routes!(get_port))
}

/// Link state of a port.
#[derive(Debug, Serialize, ToSchema)]
pub struct Link {
    pub up: bool,
    pub speed_mbps: u32,
    pub full_duplex: bool,
}

/// NIC counters of a port.
#[derive(Debug, Serialize, ToSchema)]
pub struct PortCounters {
    pub rx_packets: u64,
    pub tx_packets: u64,
    pub rx_bytes: u64,
    pub tx_bytes: u64,
    pub rx_errors: u64,
    pub tx_errors: u64,
    /// Frames the NIC dropped because the RX queues were full.
    pub rx_missed: u64,
    /// RX failures for lack of mbufs.
    pub rx_nombuf: u64,
}

/// A port: its config, DPDK id, MAC in use, link and live counters.
#[derive(Debug, Serialize, ToSchema)]
pub struct PortInfo {
    pub name: String,
    /// DPDK port id.
    pub id: u16,
    /// The MAC address the gateway uses on this port.
    pub mac: String,
    pub link: Link,
    pub stats: PortCounters,
    pub config: PortConf,
}

fn port_info(api: &Api, name: &str) -> Option<PortInfo> {
    let h = api.ctl.ports.iter().find(|p| p.name == name)?;
    let config = api.ctl.running().ports.iter().find(|p| p.name == name)?.clone();
    let (l, s) = ((api.nics.link)(h.id), (api.nics.stats)(h.id));
    Some(PortInfo {
        name: h.name.clone(),
        id: h.id,
        mac: h.mac.to_string(),
        link: Link { up: l.up, speed_mbps: l.speed_mbps, full_duplex: l.full_duplex },
        stats: PortCounters {
            rx_packets: s.rx_packets,
            tx_packets: s.tx_packets,
            rx_bytes: s.rx_bytes,
            tx_bytes: s.tx_bytes,
            rx_errors: s.rx_errors,
            tx_errors: s.tx_errors,
            rx_missed: s.rx_missed,
            rx_nombuf: s.rx_nombuf,
        },
        config,
    })
}

/// List ports with link state and NIC counters.
#[utoipa::path(get, path = "/api/v1/ports", tag = "ports", params(Paging),
    responses((status = 200, body = Page<PortInfo>), (status = 401, body = Problem)))]
async fn list_ports(State(api): St, Query(p): Query<Paging>) -> ApiResult<Json<Page<PortInfo>>> {
    page(api.ctl.ports.iter().filter_map(|h| port_info(&api, &h.name)).collect(), &p)
}

/// One port with link state and NIC counters.
#[utoipa::path(get, path = "/api/v1/ports/{name}", tag = "ports", params(("name" = String, Path, description = "Port name")),
    responses((status = 200, body = PortInfo), (status = 404, body = Problem)))]
async fn get_port(State(api): St, Path(name): Path<String>) -> ApiResult<Json<PortInfo>> {
    port_info(&api, &name).map(Json).ok_or_else(|| Problem::not_found(format!("no port is named '{name}'")))
}
