//! Who is on the other end of a loopback connection: the process that owns
//! the client socket, found through `/proc/net/tcp{,6}` (socket inode) and
//! the `/proc/<pid>/fd` links of a process tree.
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

/// The inode of the client socket of `caller`, from the kernel's table.
fn socket_inode(caller: Caller) -> Option<u64> {
    let table = match caller.peer {
        SocketAddr::V4(_) => "/proc/net/tcp",
        SocketAddr::V6(_) => "/proc/net/tcp6",
    };
    let text = std::fs::read_to_string(table).ok()?;
    find_inode(&text, caller)
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

    #[test]
    fn a_socket_of_this_process_is_found_in_its_tree() {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let client = TcpStream::connect(listener.local_addr().unwrap()).unwrap();
        let (_server, peer) = listener.accept().unwrap();
        let caller = Caller {
            peer,
            local: listener.local_addr().unwrap(),
        };
        let me = std::process::id() as i32;
        assert_eq!(owner_in_tree(caller, &[me]), Ownership::Owned(me));
        // No process of an empty tree holds it.
        assert_eq!(owner_in_tree(caller, &[]), Ownership::Foreign);
        drop(client);
    }
}
