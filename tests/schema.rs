//! `vmesh schema KIND` for the Gloo Mesh kinds (issue 16): the schemas accept every Gloo
//! Mesh resource of the test inputs and examples that renders, and reject a misspelt field
//! or a wrong type, as a render would.

mod common;

use serde_json::Value;
use std::collections::BTreeMap;
use std::path::Path;

fn validators() -> BTreeMap<(String, String), jsonschema::Validator> {
    vmesh::model::schema::gloo_kinds()
        .into_iter()
        .map(|(kind, api_version, _)| {
            let schema = vmesh::model::schema::resource_schema(kind).unwrap();
            (
                (api_version.to_string(), kind.to_string()),
                jsonschema::validator_for(&schema).expect("a valid JSON Schema"),
            )
        })
        .collect()
}

fn gloo_items_of_list(text: &str) -> Vec<Value> {
    let Ok(list) = vmesh::krm::read_resource_list(text.to_string()) else {
        return Vec::new();
    };
    list.items.iter().map(|i| i.value.clone()).collect()
}

fn documents(text: &str) -> Vec<Value> {
    let docs: Vec<Value> =
        serde_saphyr::from_str_multiple_with_options(text, vmesh::yaml::parse::options())
            .unwrap_or_default();
    docs.into_iter().filter(|d| !d.is_null()).collect()
}

#[test]
fn the_schemas_accept_every_gloo_mesh_resource_that_renders() {
    let validators = validators();
    let root = common::root();
    let mut items: Vec<(String, Value)> = Vec::new();
    for entry in std::fs::read_dir(root.join("testdata")).unwrap() {
        let dir = entry.unwrap().path();
        let name = dir.file_name().unwrap().to_string_lossy().into_owned();
        // Error cases are meant to fail (some by a wrong type or field).
        if name.starts_with("error-") || name.contains("-error-") || name == "hostile" {
            continue;
        }
        if let Ok(text) = std::fs::read_to_string(dir.join("input.yaml")) {
            items.extend(
                gloo_items_of_list(&text)
                    .into_iter()
                    .map(|v| (name.clone(), v)),
            );
        }
    }
    for entry in walkdir::WalkDir::new(root.join("functions")) {
        let entry = entry.unwrap();
        let path = entry.path();
        if path.extension().is_some_and(|e| e == "yaml") && !path.ends_with("expected.yaml") {
            let text = std::fs::read_to_string(path).unwrap();
            let shown = path.strip_prefix(&root).unwrap().display().to_string();
            items.extend(documents(&text).into_iter().map(|v| (shown.clone(), v)));
        }
    }
    let mut checked = 0;
    let mut refused = Vec::new();
    for (source, item) in &items {
        let key = (
            item["apiVersion"].as_str().unwrap_or("").to_string(),
            item["kind"].as_str().unwrap_or("").to_string(),
        );
        let Some(validator) = validators.get(&key) else {
            continue;
        };
        checked += 1;
        let errors: Vec<String> = validator
            .iter_errors(item)
            .map(|e| format!("{} at {}", e, e.instance_path()))
            .collect();
        if !errors.is_empty() {
            refused.push(format!(
                "{source}: {} {}: {}",
                key.1,
                item["metadata"]["name"],
                errors.join("; ")
            ));
        }
    }
    assert!(checked > 200, "only {checked} Gloo Mesh resources found");
    assert!(refused.is_empty(), "{}", refused.join("\n"));
}

#[test]
fn the_schemas_reject_a_misspelt_field_and_a_wrong_type() {
    let validators = validators();
    let vm_key = (
        "networking.mesh.gloo.solo.io/v1".to_string(),
        "VirtualMesh".to_string(),
    );
    let text =
        std::fs::read_to_string(common::root().join("testdata/two-clusters/input.yaml")).unwrap();
    let items = gloo_items_of_list(&text);
    let vm = items.iter().find(|i| i["kind"] == "VirtualMesh").unwrap();
    let validator = &validators[&vm_key];
    assert!(validator.is_valid(vm));

    let mut misspelt = vm.clone();
    let spec = misspelt["spec"].as_object_mut().unwrap();
    let federation = spec.remove("federation").unwrap();
    spec.insert("federaton".into(), federation);
    assert!(!validator.is_valid(&misspelt), "a misspelt field passed");

    let mut nested = vm.clone();
    nested["spec"]["federation"]["tcpKeepalive"]["probs"] = 3.into();
    assert!(
        !validator.is_valid(&nested),
        "a misspelt nested field passed"
    );

    let mut wrong = vm.clone();
    wrong["spec"]["federation"]["tcpKeepalive"]["probes"] = "three".into();
    assert!(!validator.is_valid(&wrong), "a string for a number passed");

    let mut unknown_enum = vm.clone();
    unknown_enum["spec"]["globalAccessPolicy"] = "ON".into();
    assert!(
        !validator.is_valid(&unknown_enum),
        "an unknown enum value passed"
    );

    // The golden case of a misspelt Destination field: the schema refuses what vmesh does.
    let text =
        std::fs::read_to_string(common::root().join("testdata/error-unknown-field/input.yaml"))
            .unwrap();
    let refused = gloo_items_of_list(&text)
        .iter()
        .filter(|item| {
            let key = (
                item["apiVersion"].as_str().unwrap_or("").to_string(),
                item["kind"].as_str().unwrap_or("").to_string(),
            );
            validators.get(&key).is_some_and(|v| !v.is_valid(item))
        })
        .count();
    assert_eq!(refused, 2, "error-unknown-field has two misspelt fields");
    assert!(Path::new(&common::root()).is_dir());
}
