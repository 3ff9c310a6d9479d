//! Which VirtualMesh governs which Mesh (decisions D5: every mesh checked, oldest wins).

use super::messages;
use super::report::Report;
use crate::index::Inputs;
use crate::model::Resource;
use crate::model::common::ObjectRef;
use crate::model::networking::VirtualMeshSpec;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::Time;
use std::collections::BTreeMap;

/// The winner VirtualMesh of every grouped Mesh.
#[derive(Debug, Default)]
pub struct Membership {
    /// Mesh → the VirtualMesh that governs it.
    pub owner: BTreeMap<ObjectRef, ObjectRef>,
    /// VirtualMesh → its meshes that it governs, in `spec.meshes` order.
    pub meshes: BTreeMap<ObjectRef, Vec<ObjectRef>>,
}

/// Resolves mesh ownership. VirtualMeshes are processed oldest first
/// (`metadata.creationTimestamp`; ties and missing timestamps by `namespace/name`); a later
/// VirtualMesh that lists an already grouped Mesh gets an error for that entry.
pub fn resolve(inputs: &Inputs, report: &mut Report) -> Membership {
    let mut order: Vec<&Resource<VirtualMeshSpec>> = inputs.virtual_meshes.values().collect();
    order.sort_by_key(|vm| age_key(vm));

    let mut membership = Membership::default();
    for vm in order {
        let vm_ref = vm.object_ref();
        let mut governed = Vec::new();
        for (i, mesh_ref) in vm.spec.meshes.iter().enumerate() {
            let field = format!("spec.meshes[{i}]");
            if let Some(message) = messages::mesh_ref_incomplete(mesh_ref, inputs.meshes.keys()) {
                report.error(vm.item, &field, message);
            } else if !inputs.meshes.contains_key(mesh_ref) {
                // Reported once per missing Mesh, by `report_missing_meshes`.
            } else if governed.contains(mesh_ref) {
                report.warning(
                    vm.item,
                    &field,
                    format!("Mesh {mesh_ref} is listed more than once; remove the repeated entry"),
                );
            } else if let Some(owner) = membership.owner.get(mesh_ref) {
                report.error(
                    vm.item,
                    &field,
                    messages::Message::new(
                        format!(
                            "Mesh {mesh_ref} already belongs to VirtualMesh {owner}, {}; a Mesh belongs to one VirtualMesh: remove it from one of the two",
                            why_first(&inputs.virtual_meshes[owner], vm)
                        ),
                        format!(
                            "Includes a Mesh ({}.{}) that already is grouped in a VirtualMesh ({}.{})",
                            mesh_ref.name, mesh_ref.namespace, owner.name, owner.namespace
                        ),
                    ),
                );
            } else {
                membership.owner.insert(mesh_ref.clone(), vm_ref.clone());
                governed.push(mesh_ref.clone());
            }
        }
        membership.meshes.insert(vm_ref, governed);
    }
    membership
}

/// Sort key: oldest first, missing timestamps last, then `namespace/name`. Timestamps are
/// compared as instants (their text would sort `…:00.5Z` before `…:00Z`).
fn age_key(vm: &Resource<VirtualMeshSpec>) -> (bool, Option<Time>, String, String) {
    let created = vm.meta.creation_timestamp.clone();
    (
        created.is_none(),
        created,
        vm.namespace().to_string(),
        vm.name().to_string(),
    )
}

/// Why `winner` governs a Mesh that `loser` lists too, in the words of the rule.
fn why_first(
    winner: &Resource<VirtualMeshSpec>,
    loser: &Resource<VirtualMeshSpec>,
) -> &'static str {
    match (
        &winner.meta.creation_timestamp,
        &loser.meta.creation_timestamp,
    ) {
        (Some(a), Some(b)) if a != b => "which is older (metadata.creationTimestamp)",
        (Some(_), None) => "which has a creationTimestamp (this one has none)",
        _ => {
            "which wins the tie (same creationTimestamp or none: the first by namespace/name wins)"
        }
    }
}

/// One error per Mesh that is named but not in the input, on the first thing that names
/// it (VirtualMeshes before Destinations, each in key order), listing the others: a typo
/// in one Mesh's name is one problem, not one per Destination of that Mesh.
pub fn report_missing_meshes(inputs: &Inputs, report: &mut Report) {
    // missing Mesh → (item, field) of every reference, first one first.
    let mut missing: BTreeMap<&ObjectRef, Vec<(usize, String, String)>> = BTreeMap::new();
    for vm in inputs.virtual_meshes.values() {
        for (i, mesh_ref) in vm.spec.meshes.iter().enumerate() {
            if mesh_ref.name.is_empty() || mesh_ref.namespace.is_empty() {
                continue;
            }
            if !inputs.meshes.contains_key(mesh_ref) {
                missing.entry(mesh_ref).or_default().push((
                    vm.item,
                    format!("spec.meshes[{i}]"),
                    format!("VirtualMesh {}", vm.object_ref()),
                ));
            }
        }
    }
    for destination in inputs.destinations.values() {
        if let Some(mesh_ref) = &destination.spec.mesh
            && !mesh_ref.name.is_empty()
            && !mesh_ref.namespace.is_empty()
            && !inputs.meshes.contains_key(mesh_ref)
        {
            missing.entry(mesh_ref).or_default().push((
                destination.item,
                "spec.mesh".to_string(),
                format!("Destination {}", destination.object_ref()),
            ));
        }
    }
    for (mesh_ref, referrers) in missing {
        let mut message = messages::mesh_not_found(mesh_ref, inputs.meshes.keys());
        let others: Vec<&str> = referrers[1..]
            .iter()
            .map(|(_, _, who)| who.as_str())
            .collect();
        if !others.is_empty() {
            message
                .text
                .push_str(&format!(" (also named by {})", messages::listed(&others)));
        }
        let (item, field, _) = &referrers[0];
        report.error(*item, field, message);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::parse_resource;
    use serde_json::json;

    fn vm(name: &str, created: Option<&str>) -> Resource<VirtualMeshSpec> {
        let mut meta = json!({"name": name, "namespace": "gloo-mesh"});
        if let Some(t) = created {
            meta["creationTimestamp"] = json!(t);
        }
        parse_resource(&json!({"metadata": meta, "spec": {}}), 0).unwrap()
    }

    #[test]
    fn older_instants_sort_first_whatever_their_text() {
        let whole = vm("b", Some("2021-01-01T00:00:00Z"));
        let fraction = vm("a", Some("2021-01-01T00:00:00.5Z"));
        let offset = vm("c", Some("2021-01-01T00:30:00+01:00"));
        let missing = vm("0", None);
        let mut all = [&missing, &fraction, &whole, &offset];
        all.sort_by_key(|v| age_key(v));
        let names: Vec<&str> = all.iter().map(|v| v.name()).collect();
        assert_eq!(names, ["c", "b", "a", "0"]);
    }

    #[test]
    fn ties_go_to_the_smallest_namespace_and_name() {
        let t = Some("2021-01-01T00:00:00Z");
        let (a, b) = (vm("vm-a", t), vm("vm-b", t));
        assert!(age_key(&a) < age_key(&b));
    }
}
