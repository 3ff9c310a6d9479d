//! Unique virtual IPs of remote ServiceEntries (Gloo Mesh's `unique_ip.go`, decisions D5).
//!
//! Gloo Mesh derives the address from FNV-1 (32 bit, not FNV-1a) over
//! `name ‖ namespace ‖ clusterName ‖ "kube-service"` and forces the first octet into
//! 240–255. vmesh keeps that address for compatibility but detects the collisions its 2^28
//! space makes likely at scale, and addresses inside istiod's auto-allocation range
//! 240.240.0.0/16: the Destination with the smallest key keeps its address, the others are
//! re-derived from the same string plus `#1`, `#2`, … until free.

use crate::model::common::{ClusterObjectRef, ObjectRef};
use std::collections::{BTreeMap, HashMap};
use std::net::Ipv4Addr;

const FNV_OFFSET_BASIS: u32 = 2_166_136_261;
const FNV_PRIME: u32 = 16_777_619;

/// FNV-1: multiply, then xor.
fn fnv1(data: &[u8]) -> u32 {
    data.iter().fold(FNV_OFFSET_BASIS, |hash, byte| {
        hash.wrapping_mul(FNV_PRIME) ^ u32::from(*byte)
    })
}

fn address_of(hash: u32) -> Ipv4Addr {
    Ipv4Addr::new(
        (hash & 0xff) as u8 | 240,
        ((hash >> 8) & 0xff) as u8,
        ((hash >> 16) & 0xff) as u8,
        (hash >> 24) as u8,
    )
}

/// Gloo Mesh's address for a Kubernetes Service.
pub fn gloo_address(service: &ClusterObjectRef) -> Ipv4Addr {
    address_of(fnv1(seed(service).as_bytes()))
}

fn seed(service: &ClusterObjectRef) -> String {
    format!(
        "{}{}{}kube-service",
        service.name, service.namespace, service.cluster_name
    )
}

/// True for addresses vmesh never hands out: istiod's auto-allocation range and broadcast.
fn reserved(address: Ipv4Addr) -> bool {
    let [a, b, _, _] = address.octets();
    (a == 240 && b == 240) || address == Ipv4Addr::BROADCAST
}

/// A VIP that had to move away from its Gloo Mesh address.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Moved {
    pub destination: ObjectRef,
    pub gloo_address: Ipv4Addr,
    pub address: Ipv4Addr,
    /// The Destination that keeps the Gloo Mesh address, if the move was a collision.
    pub collides_with: Option<ObjectRef>,
}

/// Assigns one address per Destination. `destinations` is keyed by the Destination's ref;
/// smaller keys keep their Gloo Mesh address on a collision.
pub fn assign(
    destinations: &BTreeMap<ObjectRef, ClusterObjectRef>,
) -> (HashMap<ObjectRef, Ipv4Addr>, Vec<Moved>) {
    let mut taken: HashMap<Ipv4Addr, ObjectRef> = HashMap::with_capacity(destinations.len());
    let mut assigned = HashMap::with_capacity(destinations.len());
    let mut moved = Vec::new();
    let mut wanting: Vec<(&ObjectRef, &ClusterObjectRef, Ipv4Addr)> = Vec::new();

    // First pass: every Destination whose Gloo address is free keeps it, smallest key first.
    for (destination, service) in destinations {
        let address = gloo_address(service);
        if reserved(address) || taken.contains_key(&address) {
            wanting.push((destination, service, address));
        } else {
            taken.insert(address, destination.clone());
            assigned.insert(destination.clone(), address);
        }
    }
    // Second pass: the others are re-derived, in key order.
    for (destination, service, gloo) in wanting {
        let base = seed(service);
        let address = (1u64..)
            .map(|n| address_of(fnv1(format!("{base}#{n}").as_bytes())))
            .find(|a| !reserved(*a) && !taken.contains_key(a))
            .expect("the address space is far larger than any input");
        // The Gloo address is reserved or held by the Destination that kept it.
        let collides_with = taken.get(&gloo).cloned();
        taken.insert(address, destination.clone());
        assigned.insert(destination.clone(), address);
        moved.push(Moved {
            destination: destination.clone(),
            gloo_address: gloo,
            address,
            collides_with,
        });
    }
    (assigned, moved)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn svc(name: &str, ns: &str, cluster: &str) -> ClusterObjectRef {
        ClusterObjectRef {
            name: name.into(),
            namespace: ns.into(),
            cluster_name: cluster.into(),
        }
    }

    #[test]
    fn gloo_addresses_match_the_reference_vectors() {
        assert_eq!(
            gloo_address(&svc("some-svc", "some-ns", "cluster")).to_string(),
            "243.21.204.125"
        );
        assert_eq!(
            gloo_address(&svc("reviews", "bookinfo", "cluster-1")).to_string(),
            "244.80.133.147"
        );
        assert_eq!(
            gloo_address(&svc("reviews", "bookinfo", "cluster-2")).to_string(),
            "255.51.210.11"
        );
    }

    #[test]
    fn collisions_keep_the_smallest_key_and_move_the_rest() {
        let mut destinations = BTreeMap::new();
        // Same Service twice under two Destination names: a guaranteed collision.
        destinations.insert(
            ObjectRef::new("a", "gloo-mesh"),
            svc("reviews", "bookinfo", "cluster-1"),
        );
        destinations.insert(
            ObjectRef::new("b", "gloo-mesh"),
            svc("reviews", "bookinfo", "cluster-1"),
        );
        let (assigned, moved) = assign(&destinations);
        assert_eq!(
            assigned[&ObjectRef::new("a", "gloo-mesh")].to_string(),
            "244.80.133.147"
        );
        assert_ne!(
            assigned[&ObjectRef::new("b", "gloo-mesh")].to_string(),
            "244.80.133.147"
        );
        assert_eq!(moved.len(), 1);
        assert_eq!(
            moved[0].collides_with,
            Some(ObjectRef::new("a", "gloo-mesh"))
        );
    }

    #[test]
    fn reserved_range_is_never_assigned() {
        // Find a service whose Gloo address lands in 240.240.0.0/16.
        let service = (0..200_000)
            .map(|i| svc(&format!("svc-{i}"), "ns", "c"))
            .find(|s| reserved(gloo_address(s)))
            .expect("one in 65536 lands in the range");
        let mut destinations = BTreeMap::new();
        destinations.insert(ObjectRef::new("d", "gloo-mesh"), service);
        let (assigned, moved) = assign(&destinations);
        assert!(!reserved(assigned[&ObjectRef::new("d", "gloo-mesh")]));
        assert_eq!(moved[0].collides_with, None);
    }
}
