//! Who is on the other end of a loopback connection: the process that owns
//! the client socket. The kernel names the socket's inode (one exact
//! `sock_diag` netlink query by the connection's four-tuple; a read of
//! `/proc/net/tcp{,6}` where netlink is not allowed), and the
//! `/proc/<pid>/fd` links of a process tree say who holds it.
//!
//! The engine asks this only for the calls that could be mistaken for the
//! current generation's (an extension's `register`, the runtime's first
//! `next` and its `init/error`): a request a killed process sent just before
//! a reset may still be read after the next init has started.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};

/// The two ends of a connection to one of rapid's servers.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Caller {
    /// The client's address (its socket's local address).
    pub peer: SocketAddr,
    /// rapid's end.
    pub local: SocketAddr,
    /// The sandbox generation running when the connection was accepted
    /// (None: none ran). Not used here: the engine compares it with its own.
    pub generation: Option<u64>,
}

/// Whether a caller's socket belongs to a process tree.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Ownership {
    /// Owned by this process of the tree.
    Owned(i32),
    /// The socket exists but no process of the tree holds it (its owner is
    /// another process, or has exited).
    Foreign,
    /// Cannot be told (no such socket in `/proc/net`, or `/proc` unreadable).
    Unknown,
}

/// Who among `roots` and their descendants holds the client socket of `caller`.
pub fn owner_in_tree(caller: Caller, roots: &[i32]) -> Ownership {
    let Some(inode) = socket_inode(caller) else {
        return Ownership::Unknown;
    };
    if inode == 0 {
        // Closed by its owner: the kernel still finishes the connection,
        // but no process holds it any more.
        return Ownership::Foreign;
    }
    if !std::path::Path::new("/proc/self/fd").exists() {
        // No /proc (an empty root): the socket's holder cannot be told.
        return Ownership::Unknown;
    }
    let link = format!("socket:[{inode}]");
    let mut unreadable = false;
    for pid in super::tree::tree_of(roots) {
        let Ok(fds) = std::fs::read_dir(format!("/proc/{pid}/fd")) else {
            // Exited meanwhile, or not ours to read.
            unreadable |= std::path::Path::new(&format!("/proc/{pid}")).exists();
            continue;
        };
        for fd in fds.flatten() {
            if std::fs::read_link(fd.path()).is_ok_and(|target| target.as_os_str() == link.as_str())
            {
                return Ownership::Owned(pid);
            }
        }
    }
    if unreadable {
        Ownership::Unknown
    } else {
        Ownership::Foreign
    }
}

/// The inode of the client socket of `caller`: 0 when the socket exists
/// but no process holds it any more.
fn socket_inode(caller: Caller) -> Option<u64> {
    match diag::inode(caller) {
        Ok(found) => found,
        // Netlink refused here (a seccomp filter, say): the kernel's table
        // tells the same, only slower (it walks every TCP socket, which
        // costs milliseconds on a large machine).
        Err(err) => {
            tracing::debug!(%err, "sock_diag unavailable; reading /proc/net/tcp");
            let table = match caller.peer {
                SocketAddr::V4(_) => "/proc/net/tcp",
                SocketAddr::V6(_) => "/proc/net/tcp6",
            };
            let text = std::fs::read_to_string(table).ok()?;
            find_inode(&text, caller)
        }
    }
}

/// The exact look-up of one TCP socket through `NETLINK_SOCK_DIAG`
/// (linux/inet_diag.h): a request for the socket whose source is the
/// caller's address and destination rapid's, answered with its inode.
mod diag {
    use super::Caller;
    use nix::sys::socket::{
        recv, sendto, socket, AddressFamily, MsgFlags, NetlinkAddr, SockFlag, SockProtocol,
        SockType,
    };
    use std::net::{IpAddr, SocketAddr};
    use std::os::fd::AsRawFd;

    const SOCK_DIAG_BY_FAMILY: u16 = 20;
    const NLM_F_REQUEST: u16 = 1;
    const IPPROTO_TCP: u8 = 6;
    /// `struct nlmsghdr`.
    const HEADER_LEN: usize = 16;
    /// `struct inet_diag_req_v2`.
    const REQUEST_LEN: usize = 56;
    /// Offset of `idiag_inode` in `struct inet_diag_msg`.
    const INODE_OFFSET: usize = 68;

    /// `Ok(None)`: the kernel has no such socket.
    pub(super) fn inode(caller: Caller) -> nix::Result<Option<u64>> {
        let fd = socket(
            AddressFamily::Netlink,
            SockType::Datagram,
            SockFlag::SOCK_CLOEXEC,
            SockProtocol::NetlinkSockDiag,
        )?;
        let request = request(caller);
        sendto(
            fd.as_raw_fd(),
            &request,
            &NetlinkAddr::new(0, 0),
            MsgFlags::empty(),
        )?;
        // The kernel answers while handling the request: the reply is
        // already queued, so never wait for it.
        let mut reply = [0u8; 512];
        let len = recv(fd.as_raw_fd(), &mut reply, MsgFlags::MSG_DONTWAIT)?;
        Ok(parse_reply(&reply[..len]))
    }

    fn request(caller: Caller) -> Vec<u8> {
        let mut message = Vec::with_capacity(HEADER_LEN + REQUEST_LEN);
        let total = (HEADER_LEN + REQUEST_LEN) as u32;
        message.extend_from_slice(&total.to_ne_bytes());
        message.extend_from_slice(&SOCK_DIAG_BY_FAMILY.to_ne_bytes());
        message.extend_from_slice(&NLM_F_REQUEST.to_ne_bytes());
        message.extend_from_slice(&1u32.to_ne_bytes()); // sequence
        message.extend_from_slice(&0u32.to_ne_bytes()); // port id: the kernel fills it
        let family = match caller.peer {
            SocketAddr::V4(_) => libc::AF_INET as u8,
            SocketAddr::V6(_) => libc::AF_INET6 as u8,
        };
        message.extend_from_slice(&[family, IPPROTO_TCP, 0, 0]);
        message.extend_from_slice(&u32::MAX.to_ne_bytes()); // every state
                                                            // inet_diag_sockid: ports and addresses in network order.
        message.extend_from_slice(&caller.peer.port().to_be_bytes());
        message.extend_from_slice(&caller.local.port().to_be_bytes());
        message.extend_from_slice(&address(caller.peer.ip()));
        message.extend_from_slice(&address(caller.local.ip()));
        message.extend_from_slice(&0u32.to_ne_bytes()); // interface
        message.extend_from_slice(&[0xff; 8]); // INET_DIAG_NOCOOKIE
        message
    }

    /// The 16 bytes of an `idiag_src` / `idiag_dst`.
    fn address(ip: IpAddr) -> [u8; 16] {
        let mut bytes = [0u8; 16];
        match ip {
            IpAddr::V4(v4) => bytes[..4].copy_from_slice(&v4.octets()),
            IpAddr::V6(v6) => bytes.copy_from_slice(&v6.octets()),
        }
        bytes
    }

    fn parse_reply(reply: &[u8]) -> Option<u64> {
        let kind = u16::from_ne_bytes(reply.get(4..6)?.try_into().ok()?);
        if kind != SOCK_DIAG_BY_FAMILY {
            // NLMSG_ERROR (ENOENT): there is no such socket.
            return None;
        }
        let at = HEADER_LEN + INODE_OFFSET;
        let inode = u32::from_ne_bytes(reply.get(at..at + 4)?.try_into().ok()?);
        Some(u64::from(inode))
    }
}

/// The inode of the line whose local end is the caller's peer address and
/// whose remote end is rapid's.
fn find_inode(table: &str, caller: Caller) -> Option<u64> {
    table.lines().skip(1).find_map(|line| {
        let fields: Vec<&str> = line.split_whitespace().collect();
        let local = parse_address(fields.get(1)?)?;
        let remote = parse_address(fields.get(2)?)?;
        if local == caller.peer && remote == caller.local {
            fields.get(9)?.parse().ok()
        } else {
            None
        }
    })
}

/// `0100007F:1F91` (IPv4) or 32 hex digits then `:port` (IPv6): the
/// address words are printed as native-endian integers, the port in hex.
fn parse_address(field: &str) -> Option<SocketAddr> {
    let (addr, port) = field.split_once(':')?;
    let port = u16::from_str_radix(port, 16).ok()?;
    let ip = match addr.len() {
        8 => {
            let word = u32::from_str_radix(addr, 16).ok()?;
            IpAddr::V4(Ipv4Addr::from(word.to_ne_bytes()))
        }
        32 => {
            let mut bytes = [0u8; 16];
            for (i, chunk) in bytes.chunks_mut(4).enumerate() {
                let word = u32::from_str_radix(addr.get(i * 8..i * 8 + 8)?, 16).ok()?;
                chunk.copy_from_slice(&word.to_ne_bytes());
            }
            IpAddr::V6(Ipv6Addr::from(bytes))
        }
        _ => return None,
    };
    Some(SocketAddr::new(ip, port))
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::net::{TcpListener, TcpStream};

    fn hex_v4(addr: SocketAddr) -> String {
        let SocketAddr::V4(v4) = addr else {
            unreachable!("an IPv4 address")
        };
        let word = u32::from_ne_bytes(v4.ip().octets());
        format!("{word:08X}:{:04X}", v4.port())
    }

    #[test]
    fn addresses_read_as_the_kernel_prints_them() {
        let addr: SocketAddr = "127.0.0.1:8081".parse().unwrap();
        assert_eq!(parse_address(&hex_v4(addr)), Some(addr));
        let v6: SocketAddr = "[::1]:9001".parse().unwrap();
        let mut text = String::new();
        let SocketAddr::V6(inner) = v6 else {
            unreachable!("an IPv6 address")
        };
        for chunk in inner.ip().octets().chunks(4) {
            let word = u32::from_ne_bytes([chunk[0], chunk[1], chunk[2], chunk[3]]);
            text.push_str(&format!("{word:08X}"));
        }
        text.push_str(":2329");
        assert_eq!(parse_address(&text), Some(v6));
        assert_eq!(parse_address("zz:1"), None);
    }

    #[test]
    fn a_line_matches_only_its_own_connection() {
        let caller = Caller {
            peer: "127.0.0.1:40000".parse().unwrap(),
            local: "127.0.0.1:9001".parse().unwrap(),
            generation: None,
        };
        let line = |local: SocketAddr, remote: SocketAddr, inode: u64| {
            format!(
                "   0: {} {} 01 00000000:00000000 00:00000000 00000000  1000        0 {inode} 1 0000000000000000 20 4 30 10 -1",
                hex_v4(local),
                hex_v4(remote)
            )
        };
        let table = format!(
            "  sl  local_address rem_address   st ...\n{}\n{}\n",
            // rapid's own end of the same connection
            line(caller.local, caller.peer, 111),
            line(caller.peer, caller.local, 222),
        );
        assert_eq!(find_inode(&table, caller), Some(222));
        let other = Caller {
            peer: "127.0.0.1:40001".parse().unwrap(),
            ..caller
        };
        assert_eq!(find_inode(&table, other), None);
    }

    /// A loopback connection of this process: its caller, and both ends.
    fn connected() -> (Caller, TcpStream, TcpStream) {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let local = listener.local_addr().unwrap();
        let client = TcpStream::connect(local).unwrap();
        let (server, peer) = listener.accept().unwrap();
        (
            Caller {
                peer,
                local,
                generation: None,
            },
            client,
            server,
        )
    }

    #[test]
    fn netlink_and_the_table_name_the_same_socket() {
        let (caller, _client, _server) = connected();
        let from_netlink = diag::inode(caller).expect("sock_diag works here");
        let table = std::fs::read_to_string("/proc/net/tcp").unwrap();
        assert!(from_netlink.is_some_and(|inode| inode > 0));
        assert_eq!(from_netlink, find_inode(&table, caller));
        // A connection that does not exist is not found.
        let nobody = Caller {
            peer: "127.0.0.1:1".parse().unwrap(),
            ..caller
        };
        assert_eq!(diag::inode(nobody).expect("sock_diag works here"), None);
    }

    #[test]
    fn a_socket_of_this_process_is_found_in_its_tree() {
        let (caller, client, _server) = connected();
        let me = std::process::id() as i32;
        assert_eq!(owner_in_tree(caller, &[me]), Ownership::Owned(me));
        // No process of an empty tree holds it.
        assert_eq!(owner_in_tree(caller, &[]), Ownership::Foreign);
        drop(client);
    }
}
