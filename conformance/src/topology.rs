//! One sandbox per case: `pod`, `node` and `world` namespaces joined by veth pairs.
//!
//! ```text
//!  pod                       node                                  world
//!  eth0 10.244.0.2/24  ──  to-pod 10.244.0.1/24
//!       fd00:10:244::2/64     fd00:10:244::1/64
//!                            to-world 198.51.100.1/24        ──  eth0 198.51.100.2/24
//!                                     2001:db8:1::1/64            2001:db8:1::2/64
//!                            lo 192.0.2.1/32                     lo: every destination /32, /128
//!                               2001:db8:2::1/128
//!                            default via world, src 192.0.2.1 / 2001:db8:2::1
//! ```
//! The node's main address (192.0.2.1, 2001:db8:2::1) lives on its loopback, as on many
//! nodes (a BGP-announced or otherwise interface-independent address), and the default
//! routes choose it (`src`) for what the node sends. It must not be the primary address of
//! the egress interface: MASQUERADE rewrites a source to that primary address
//! (198.51.100.1), so a flow from it would look the same masqueraded or not and a case
//! from the main address could never tell the two apart. From here, masqueraded flows
//! arrive from 198.51.100.1 and unmasqueraded ones from 192.0.2.1.
//! Built with rtnetlink: each veth is created from inside one namespace with its peer
//! placed directly in `node`, so no device ever exists in the initial namespace. Nothing
//! routes out: the only default routes point from `pod` to `node`, from `node` to `world`,
//! and from `world` back to `node`.

use std::fs::File;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};
use std::os::fd::AsRawFd;
use std::path::{Path, PathBuf};

use futures::TryStreamExt;
use netns_rs::NetNs;
use rtnetlink::packet_route::link::{InfoData, InfoKind, InfoVeth};
use rtnetlink::packet_route::neighbour::NeighbourState;
use rtnetlink::{Handle, LinkMessageBuilder, LinkUnspec, LinkVeth, RouteMessageBuilder};

use crate::guard::{self, NsId};
use crate::limits::{CaseLimits, LimitError, LimitSettings};
use crate::names;
use crate::vocabulary::addresses::{
    reserved, NODE_MAIN_V4, NODE_MAIN_V6, NODE_POD_SIDE_V4, NODE_POD_SIDE_V6, NODE_V4, NODE_V6,
    POD_V4, POD_V6, WORLD_V4, WORLD_V6,
};

/// Fixed link-layer addresses, so that neighbour entries can be written up front.
const MAC_POD: [u8; 6] = [0x02, 0x6d, 0x63, 0x00, 0x00, 0x01];
const MAC_NODE_POD_SIDE: [u8; 6] = [0x02, 0x6d, 0x63, 0x00, 0x00, 0x02];
const MAC_NODE_WORLD_SIDE: [u8; 6] = [0x02, 0x6d, 0x63, 0x00, 0x00, 0x03];
const MAC_WORLD: [u8; 6] = [0x02, 0x6d, 0x63, 0x00, 0x00, 0x04];

/// Errors while building or tearing down a sandbox.
#[derive(Debug, thiserror::Error)]
pub enum TopologyError {
    #[error("creating namespace {name}: {source}")]
    Namespace {
        name: String,
        source: netns_rs::Error,
    },
    #[error(transparent)]
    Guard(#[from] guard::GuardError),
    #[error("netlink: {what}: {source}")]
    Netlink {
        what: String,
        source: rtnetlink::Error,
    },
    #[error("{what}: {source}")]
    Io {
        what: String,
        source: std::io::Error,
    },
    #[error("the case's limits: {0}")]
    Limits(#[from] LimitError),
    #[error("destination {0} collides with the sandbox's own addressing")]
    ReservedAddress(IpAddr),
}

/// One of the three namespaces of a sandbox.
pub struct Namespace {
    name: String,
    ns: Option<NetNs>,
    id: NsId,
    /// Set once its processes are known to be gone (the sandbox kills all three
    /// namespaces' processes in one pass).
    emptied: bool,
}

impl Namespace {
    pub fn create(name: String) -> Result<Self, TopologyError> {
        if names::stopping() {
            return Err(TopologyError::Io {
                what: format!("creating namespace {name}"),
                source: std::io::Error::new(std::io::ErrorKind::Interrupted, "the run is stopping"),
            });
        }
        // Make /run/netns a shared mount point once, before concurrent creations race on it.
        static INIT: std::sync::OnceLock<Result<(), String>> = std::sync::OnceLock::new();
        INIT.get_or_init(|| {
            use netns_rs::Env;
            netns_rs::DefaultEnv.init().map_err(|e| e.to_string())
        })
        .clone()
        .map_err(|e| TopologyError::Io {
            what: format!("preparing {}", names::NETNS_DIR),
            source: std::io::Error::other(e),
        })?;
        let ns = NetNs::new(&name).map_err(|source| TopologyError::Namespace {
            name: name.clone(),
            source,
        })?;
        let id = guard::register(ns.file())?;
        Ok(Self {
            name,
            ns: Some(ns),
            id,
            emptied: false,
        })
    }

    /// The namespace's nsfs file (for setns / the guard).
    pub fn file(&self) -> &File {
        self.ns
            .as_ref()
            .expect("namespace used after removal")
            .file()
    }

    /// Its name under /run/netns.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// Its path under /run/netns.
    pub fn path(&self) -> PathBuf {
        Path::new(names::NETNS_DIR).join(&self.name)
    }
}

impl Drop for Namespace {
    fn drop(&mut self) {
        guard::unregister(self.id);
        if let Some(ns) = self.ns.take() {
            // Nothing may keep the namespace busy: kill what still runs in it.
            if !self.emptied {
                names::kill_processes_in(ns.path());
            }
            let path = ns.path().to_path_buf();
            if ns.remove().is_err() {
                names::remove_named_namespace(&path);
            }
        }
    }
}

/// A case's three namespaces, wired up and addressed.
pub struct Sandbox {
    pub tag: String,
    pub pod: Namespace,
    pub node: Namespace,
    pub world: Namespace,
    /// Scratch directory for this case (config volume, PATH shims, overlay dirs).
    pub scratch: PathBuf,
    /// Extra destinations added to the world.
    pub destinations: Vec<IpAddr>,
    /// The case's pids, memory and output limits (its cgroups): the implementation joins
    /// them when it starts; dropped last, killing whatever is left in them.
    pub limits: CaseLimits,
}

impl Sandbox {
    /// Builds the three namespaces and their links. `destinations` are placed on the
    /// world's loopback as host addresses.
    pub fn create(destinations: &[IpAddr]) -> Result<Self, TopologyError> {
        Self::create_limited(destinations, LimitSettings::DEFAULT)
    }

    /// [`Sandbox::create`] with the case's limits.
    pub fn create_limited(
        destinations: &[IpAddr],
        settings: LimitSettings,
    ) -> Result<Self, TopologyError> {
        if let Some(bad) = destinations.iter().find(|d| reserved(**d)) {
            return Err(TopologyError::ReservedAddress(*bad));
        }
        let tag = names::next_case_tag();
        // Below this run's private scratch root, made with mkdir: never a directory
        // another user planted.
        let scratch = names::make_case_dir(&tag).map_err(|source| TopologyError::Io {
            what: format!("creating the scratch directory of {tag}"),
            source,
        })?;
        let limits = match CaseLimits::create(&tag, settings) {
            Ok(l) => l,
            Err(e) => {
                let _ = std::fs::remove_dir_all(&scratch);
                return Err(e.into());
            }
        };
        // Fields drop in declaration order if a later step fails: namespaces go away.
        // The kernel builds namespaces concurrently; three threads save two round trips.
        let (pod, node, world) = std::thread::scope(|s| {
            let make = |role: &str| {
                let name = format!("{tag}-{role}");
                s.spawn(move || Namespace::create(name))
            };
            let (p, n, w) = (make("pod"), make("node"), make("world"));
            let join = |h: std::thread::ScopedJoinHandle<'_, Result<Namespace, TopologyError>>| {
                h.join().unwrap_or_else(|p| std::panic::resume_unwind(p))
            };
            (join(p), join(n), join(w))
        });
        let sandbox = Self {
            pod: pod?,
            node: node?,
            world: world?,
            tag,
            scratch,
            destinations: destinations.to_vec(),
            limits,
        };
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .map_err(|source| TopologyError::Io {
                what: "tokio runtime".into(),
                source,
            })?;
        rt.block_on(sandbox.wire())?;
        drop(rt); // closes the netlink sockets, which would otherwise pin the namespaces
        Ok(sandbox)
    }

    /// Enters `ns` once: writes its sysctls and opens its netlink socket there (one
    /// thread per namespace; the socket stays bound to it), driven by the current runtime.
    fn prepare(ns: &Namespace, sysctls: &[(&str, &str)]) -> Result<Handle, TopologyError> {
        let rt = tokio::runtime::Handle::current();
        let (conn, handle, _) = crate::netns::in_ns(ns.file(), || {
            for (key, value) in sysctls {
                crate::netns::write_sysctl(key, value).map_err(|source| TopologyError::Io {
                    what: format!("sysctl {key}={value} in {}", ns.name()),
                    source,
                })?;
            }
            let _entered = rt.enter();
            rtnetlink::new_connection().map_err(|source| TopologyError::Io {
                what: format!("netlink socket in {}", ns.name()),
                source,
            })
        })??;
        tokio::spawn(conn);
        Ok(handle)
    }

    async fn wire(&self) -> Result<(), TopologyError> {
        // No duplicate address detection: addresses are usable at once.
        let no_dad = [
            ("net.ipv6.conf.default.accept_dad", "0"),
            ("net.ipv6.conf.all.accept_dad", "0"),
        ];
        let router = [
            no_dad[0],
            no_dad[1],
            ("net.ipv4.ip_forward", "1"),
            ("net.ipv6.conf.all.forwarding", "1"),
        ];
        let pod = Self::prepare(&self.pod, &no_dad)?;
        let node = Self::prepare(&self.node, &router)?;
        let world = Self::prepare(&self.world, &no_dad)?;
        let node_fd = self.node.file().as_raw_fd();

        veth_with_peer_in(
            &pod,
            ("eth0", MAC_POD),
            ("to-pod", MAC_NODE_POD_SIDE),
            node_fd,
        )
        .await?;
        veth_with_peer_in(
            &world,
            ("eth0", MAC_WORLD),
            ("to-world", MAC_NODE_WORLD_SIDE),
            node_fd,
        )
        .await?;

        // pod
        let eth0 = link_index(&pod, "eth0").await?;
        add_addr(&pod, eth0, POD_V4.into(), 24).await?;
        add_addr(&pod, eth0, POD_V6.into(), 64).await?;
        up(&pod, "lo").await?;
        up(&pod, "eth0").await?;
        // Permanent neighbour entries: no ARP or neighbour discovery on the path. A fresh
        // veth often loses its first IPv6 solicitation, and the kernel's 1 s retry would
        // delay every case's first IPv6 probe; NAT behaviour does not depend on either.
        neighbours(
            &pod,
            eth0,
            &[NODE_POD_SIDE_V4.into(), NODE_POD_SIDE_V6.into()],
            MAC_NODE_POD_SIDE,
        )
        .await?;
        default_routes(&pod, NODE_POD_SIDE_V4, NODE_POD_SIDE_V6).await?;

        // node
        let to_pod = link_index(&node, "to-pod").await?;
        let to_world = link_index(&node, "to-world").await?;
        add_addr(&node, to_pod, NODE_POD_SIDE_V4.into(), 24).await?;
        add_addr(&node, to_pod, NODE_POD_SIDE_V6.into(), 64).await?;
        add_addr(&node, to_world, NODE_V4.into(), 24).await?;
        add_addr(&node, to_world, NODE_V6.into(), 64).await?;
        up(&node, "lo").await?;
        up(&node, "to-pod").await?;
        up(&node, "to-world").await?;
        add_addr(&node, 1, NODE_MAIN_V4.into(), 32).await?;
        add_addr(&node, 1, NODE_MAIN_V6.into(), 128).await?;
        neighbours(&node, to_pod, &[POD_V4.into(), POD_V6.into()], MAC_POD).await?;
        neighbours(
            &node,
            to_world,
            &[WORLD_V4.into(), WORLD_V6.into()],
            MAC_WORLD,
        )
        .await?;

        // world
        let w_eth0 = link_index(&world, "eth0").await?;
        add_addr(&world, w_eth0, WORLD_V4.into(), 24).await?;
        add_addr(&world, w_eth0, WORLD_V6.into(), 64).await?;
        up(&world, "lo").await?;
        up(&world, "eth0").await?;
        for dest in &self.destinations {
            let len = if dest.is_ipv4() { 32 } else { 128 };
            add_addr(&world, 1, *dest, len).await?;
        }
        neighbours(
            &world,
            w_eth0,
            &[NODE_V4.into(), NODE_V6.into()],
            MAC_NODE_WORLD_SIDE,
        )
        .await?;
        // Also world's route to the pod range (inbound flows, `from: world`): via the node.
        default_routes(&world, NODE_V4, NODE_V6).await?;
        // Only now is the path usable end to end.
        for (handle, link) in [
            (&pod, "eth0"),
            (&node, "to-pod"),
            (&node, "to-world"),
            (&world, "eth0"),
        ] {
            oper_up(handle, link).await?;
        }
        for (handle, ns) in [(&pod, "pod"), (&node, "node"), (&world, "world")] {
            addresses_usable(handle, ns).await?;
        }
        // A preferred source must be a usable address: the main IPv6 address leaves the
        // tentative state only now, so the node's default routes come last.
        default_routes_from(
            &node,
            WORLD_V4,
            WORLD_V6,
            Some((NODE_MAIN_V4, NODE_MAIN_V6)),
        )
        .await?;
        Ok(())
    }
}

impl Drop for Sandbox {
    fn drop(&mut self) {
        let paths = [self.pod.path(), self.node.path(), self.world.path()];
        names::kill_processes_in_any(&paths.iter().map(PathBuf::as_path).collect::<Vec<_>>());
        for ns in [&mut self.pod, &mut self.node, &mut self.world] {
            ns.emptied = true;
        }
        // Namespaces are removed by their own Drop (field order: pod, node, world).
        let _ = std::fs::remove_dir_all(&self.scratch);
    }
}

fn nl(what: impl Into<String>) -> impl FnOnce(rtnetlink::Error) -> TopologyError {
    let what = what.into();
    move |source| TopologyError::Netlink { what, source }
}

/// Creates veth `name` in the handle's namespace with its peer created directly in the
/// namespace behind `peer_ns_fd` (one request, no move), both with fixed MAC addresses.
async fn veth_with_peer_in(
    handle: &Handle,
    (name, mac): (&str, [u8; 6]),
    (peer, peer_mac): (&str, [u8; 6]),
    peer_ns_fd: i32,
) -> Result<(), TopologyError> {
    let peer_msg = LinkMessageBuilder::<LinkUnspec>::new()
        .name(peer.to_string())
        .address(peer_mac.to_vec())
        .setns_by_fd(peer_ns_fd)
        .build();
    let msg = LinkMessageBuilder::<LinkVeth>::new_with_info_kind(InfoKind::Veth)
        .name(name.to_string())
        .address(mac.to_vec())
        .set_info_data(InfoData::Veth(InfoVeth::Peer(peer_msg)))
        .build();
    handle
        .link()
        .add(msg)
        .execute()
        .await
        .map_err(nl(format!("veth {name} <-> {peer}")))
}

/// Permanent neighbour entries for `addrs` on link `index`, all at `mac`.
async fn neighbours(
    handle: &Handle,
    index: u32,
    addrs: &[IpAddr],
    mac: [u8; 6],
) -> Result<(), TopologyError> {
    for addr in addrs {
        handle
            .neighbours()
            .add(index, *addr)
            .link_layer_address(&mac)
            .state(NeighbourState::Permanent)
            .execute()
            .await
            .map_err(nl(format!("neighbour {addr}")))?;
    }
    Ok(())
}

/// The link called `name`, if the namespace has one.
async fn link_by_name(
    handle: &Handle,
    name: &str,
) -> Result<Option<rtnetlink::packet_route::link::LinkMessage>, TopologyError> {
    handle
        .link()
        .get()
        .match_name(name.to_string())
        .execute()
        .try_next()
        .await
        .map_err(nl(format!("looking up link {name}")))
}

async fn link_index(handle: &Handle, name: &str) -> Result<u32, TopologyError> {
    let msg = link_by_name(handle, name).await?;
    msg.map(|m| m.header.index)
        .ok_or_else(|| TopologyError::Io {
            what: format!("link {name}"),
            source: std::io::Error::from(std::io::ErrorKind::NotFound),
        })
}

/// How long a link may take to become operational. The kernel activates a link's queue
/// (and reports it UP) from its link-watch work, which a busy machine runs late: until
/// then every packet sent through the link is dropped, so a probe sent too early would
/// look "dropped".
const OPER_UP_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(10);

/// Polls `check` until it yields true, or fails after [`OPER_UP_TIMEOUT`] saying what it
/// waited for (the async twin of [`crate::poll::until`], for the netlink handles).
async fn settle<F, Fut>(what: impl FnOnce() -> String, mut check: F) -> Result<(), TopologyError>
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = Result<bool, TopologyError>>,
{
    let deadline = tokio::time::Instant::now() + OPER_UP_TIMEOUT;
    loop {
        if check().await? {
            return Ok(());
        }
        if tokio::time::Instant::now() >= deadline {
            return Err(TopologyError::Io {
                what: format!("waiting {OPER_UP_TIMEOUT:?} for {}", what()),
                source: std::io::Error::from(std::io::ErrorKind::TimedOut),
            });
        }
        tokio::time::sleep(std::time::Duration::from_millis(5)).await;
    }
}

/// Waits until `name` reports operational state UP.
async fn oper_up(handle: &Handle, name: &str) -> Result<(), TopologyError> {
    use rtnetlink::packet_route::link::{LinkAttribute, State};
    settle(
        || format!("link {name} to become operational"),
        || async {
            let msg = link_by_name(handle, name).await?;
            Ok(msg.is_some_and(|m| {
                m.attributes
                    .iter()
                    .any(|a| matches!(a, LinkAttribute::OperState(State::Up)))
            }))
        },
    )
    .await
}

/// Waits until no global IPv6 address of the namespace is tentative. Even without
/// duplicate address detection the kernel finishes an address from deferred work once its
/// link is up; until then the address cannot be a source and IPv6 probes would fail.
async fn addresses_usable(handle: &Handle, ns: &str) -> Result<(), TopologyError> {
    use rtnetlink::packet_route::address::{
        AddressAttribute, AddressFlags, AddressHeaderFlags, AddressScope,
    };
    use rtnetlink::packet_route::AddressFamily;
    settle(
        || format!("the IPv6 addresses in {ns} to leave the tentative state"),
        || async {
            let mut stream = handle.address().get().execute();
            while let Some(msg) = stream
                .try_next()
                .await
                .map_err(nl(format!("listing addresses in {ns}")))?
            {
                if msg.header.family != AddressFamily::Inet6
                    || msg.header.scope != AddressScope::Universe
                {
                    continue;
                }
                let tentative = msg.header.flags.contains(AddressHeaderFlags::Tentative)
                    || msg.attributes.iter().any(|a| {
                        matches!(a, AddressAttribute::Flags(f) if f.contains(AddressFlags::Tentative))
                    });
                if tentative {
                    return Ok(false);
                }
            }
            Ok(true)
        },
    )
    .await
}

async fn up(handle: &Handle, name: &str) -> Result<(), TopologyError> {
    let index = link_index(handle, name).await?;
    handle
        .link()
        .set(LinkUnspec::new_with_index(index).up().build())
        .execute()
        .await
        .map_err(nl(format!("setting {name} up")))
}

async fn add_addr(handle: &Handle, index: u32, addr: IpAddr, len: u8) -> Result<(), TopologyError> {
    handle
        .address()
        .add(index, addr, len)
        .execute()
        .await
        .map_err(nl(format!("adding {addr}/{len}")))
}

async fn default_routes(
    handle: &Handle,
    via4: Ipv4Addr,
    via6: Ipv6Addr,
) -> Result<(), TopologyError> {
    default_routes_from(handle, via4, via6, None).await
}

/// Default routes via `via4`/`via6`, preferring the sources `src` for what the namespace
/// itself sends.
async fn default_routes_from(
    handle: &Handle,
    via4: Ipv4Addr,
    via6: Ipv6Addr,
    src: Option<(Ipv4Addr, Ipv6Addr)>,
) -> Result<(), TopologyError> {
    let mut v4 = RouteMessageBuilder::<Ipv4Addr>::new().gateway(via4);
    let mut v6 = RouteMessageBuilder::<Ipv6Addr>::new().gateway(via6);
    if let Some((s4, s6)) = src {
        v4 = v4.pref_source(s4);
        v6 = v6.pref_source(s6);
    }
    let v4 = v4.build();
    handle
        .route()
        .add(v4)
        .execute()
        .await
        .map_err(nl(format!("default route via {via4}")))?;
    let v6 = v6.build();
    handle
        .route()
        .add(v6)
        .execute()
        .await
        .map_err(nl(format!("default route via {via6}")))
}
