// Renders each kustomize overlay under deploy/k8s/overlays with `kubectl kustomize` and validates
// every object strictly against the Kubernetes OpenAPI definitions, offline:
//   1. the OpenAPI schema of its apiVersion/kind (types, formats, enums, required fields), through
//      the validators that kubernetes-models generates from the Kubernetes OpenAPI document;
//   2. no unknown fields: every key, at every depth, must be a property of the OpenAPI type at that
//      place, walking the property tables that @kubernetes/client-node generates from the same
//      document (the schemas themselves allow additional properties; the API server does not).
// Also proves that the checks bite: a copy of a rendered Deployment with one unknown field, and
// one with a wrongly typed field, must both be rejected.
//
// Usage: node validate-manifests.mjs <repository root>
// Exits 0 when every object of every overlay is valid; prints each error and exits 1 otherwise.
import { execFileSync } from "node:child_process";
import { readdirSync } from "node:fs";
import path from "node:path";

import * as openapi from "@kubernetes/client-node/dist/gen/models/all.js";
import YAML from "yaml";

const repo = path.resolve(process.argv[2] ?? path.join(import.meta.dirname, "../.."));
const overlaysDir = path.join(repo, "deploy/k8s/overlays");

// apiVersion "apps/v1" + kind "Deployment" -> the kubernetes-models module and the OpenAPI model
// name ("V1Deployment"; "autoscaling/v2" HorizontalPodAutoscaler -> "V2HorizontalPodAutoscaler").
function typeNames(apiVersion, kind) {
  const [group, version] = apiVersion.includes("/") ? apiVersion.split("/") : ["", apiVersion];
  return {
    module: group === "" ? `kubernetes-models/${version}` : `kubernetes-models/${group}/${version}`,
    model: version[0].toUpperCase() + version.slice(1) + kind,
  };
}

// Returns the OpenAPI type of the elements or values of a container type, or null for a leaf.
function elementType(type) {
  let m = /^Array<(.+)>$/.exec(type);
  if (m) return m[1];
  m = /^\{ \[key: string\]: (.+); \}$/.exec(type);
  if (m) return m[1];
  return null;
}

// Collects the fields of `value` that its OpenAPI type `type` does not define, as JSON paths.
function unknownFields(value, type, where, errors) {
  if (value === null || value === undefined) return;
  const inner = elementType(type);
  if (inner !== null) {
    if (type.startsWith("Array<")) {
      if (Array.isArray(value)) value.forEach((v, i) => unknownFields(v, inner, `${where}[${i}]`, errors));
    } else if (typeof value === "object") {
      for (const [k, v] of Object.entries(value)) unknownFields(v, inner, `${where}.${k}`, errors);
    }
    return;
  }
  const model = openapi[type];
  if (typeof model?.getAttributeTypeMap !== "function") return; // string, number, quantity, ...
  if (typeof value !== "object" || Array.isArray(value)) return; // a type error, caught by step 1
  const fields = new Map(model.getAttributeTypeMap().map((a) => [a.baseName, a.type]));
  for (const [k, v] of Object.entries(value)) {
    if (!fields.has(k)) {
      errors.push(`${where}.${k}: unknown field (not in ${type})`);
    } else {
      unknownFields(v, fields.get(k), `${where}.${k}`, errors);
    }
  }
}

// Validates one object; returns a list of error strings (empty when valid).
async function validate(object) {
  const errors = [];
  const { apiVersion, kind } = object ?? {};
  if (typeof apiVersion !== "string" || typeof kind !== "string") {
    return ["object without apiVersion/kind"];
  }
  const names = typeNames(apiVersion, kind);
  let modelClass;
  try {
    modelClass = (await import(names.module))[kind];
  } catch {
    modelClass = undefined;
  }
  if (typeof modelClass !== "function") return [`${apiVersion} ${kind}: no OpenAPI schema`];
  if (typeof openapi[names.model]?.getAttributeTypeMap !== "function") {
    return [`${apiVersion} ${kind}: no OpenAPI model ${names.model}`];
  }
  try {
    new modelClass(structuredClone(object)).validate();
  } catch (e) {
    errors.push(`schema: ${e.message}`);
  }
  unknownFields(object, names.model, "", errors);
  return errors;
}

function render(overlay) {
  const text = execFileSync("kubectl", ["kustomize", overlay], { encoding: "utf8" });
  return YAML.parseAllDocuments(text).map((d) => {
    if (d.errors.length > 0) throw new Error(`${overlay}: ${d.errors[0].message}`);
    return d.toJS();
  });
}

let failures = 0;
let checked = 0;
const overlays = readdirSync(overlaysDir).sort();
if (overlays.length === 0) {
  console.error(`no overlays under ${overlaysDir}`);
  process.exit(1);
}
let sampleDeployment = null;
for (const name of overlays) {
  const objects = render(path.join(overlaysDir, name));
  if (objects.length === 0) {
    console.error(`FAIL ${name}: rendered no objects`);
    failures++;
  }
  for (const object of objects) {
    const id = `${name}: ${object.apiVersion} ${object.kind} ${object.metadata?.name}`;
    const errors = await validate(object);
    checked++;
    if (errors.length > 0) {
      failures++;
      console.error(`FAIL ${id}\n  ${errors.join("\n  ")}`);
    } else {
      console.log(`ok   ${id}`);
    }
    if (object.kind === "Deployment") sampleDeployment ??= object;
  }
}

// The validator itself must reject what the API server would.
if (sampleDeployment === null) {
  console.error("FAIL no Deployment rendered, cannot check that the validator rejects bad objects");
  failures++;
} else {
  const unknown = structuredClone(sampleDeployment);
  unknown.spec.template.spec.containers[0].readinessProbe.grpcc = { port: 50051 };
  const wrongType = structuredClone(sampleDeployment);
  wrongType.spec.template.spec.terminationGracePeriodSeconds = "thirty-five";
  for (const [what, object, expected] of [
    ["an unknown field", unknown, /readinessProbe\.grpcc: unknown field/],
    ["a wrongly typed field", wrongType, /terminationGracePeriodSeconds/],
  ]) {
    const errors = await validate(object);
    if (errors.some((e) => expected.test(e))) {
      console.log(`ok   a Deployment with ${what} is rejected`);
    } else {
      failures++;
      console.error(`FAIL a Deployment with ${what} was not rejected (errors: ${JSON.stringify(errors)})`);
    }
    checked++;
  }
}

console.log(`${checked - failures} passed, ${failures} failed`);
process.exit(failures === 0 ? 0 : 1);
