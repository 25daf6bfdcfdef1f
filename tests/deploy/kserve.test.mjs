// The KServe manifests (deploy/kserve), rendered with `kubectl kustomize` and checked offline:
//   * every field of the ServingRuntime and the InferenceService is one KServe documents
//     (serving.kserve.io/v1alpha1 ServingRuntimeSpec, v1beta1 InferenceServiceSpec), with the
//     documented types and enums; their containers and resources are checked strictly against the
//     Kubernetes OpenAPI schemas (wrapped in a Pod, the way the runtime's pods are built);
//   * the wiring: the protocol (v2 over HTTP and gRPC) on the ports actd is told to use, probes on
//     the protocol's health endpoints, the InferenceService served by this runtime's format, a
//     pinned image, nothing left to fill in before `kubectl apply`.
// Also proves the field check bites: an unknown field and a wrong enum must be rejected.
//
// Usage: node --test kserve.test.mjs   (ACTD_REPO names the repository root; default ../..)
import assert from "node:assert/strict";
import { execFileSync } from "node:child_process";
import path from "node:path";
import { describe, test } from "node:test";

import * as openapi from "@kubernetes/client-node/dist/gen/models/all.js";
import { Pod } from "kubernetes-models/v1";
import YAML from "yaml";

const repo = path.resolve(process.env.ACTD_REPO ?? path.join(import.meta.dirname, "../.."));
const kHttpPort = 8080;
const kGrpcPort = 8081;

const text = execFileSync("kubectl", ["kustomize", path.join(repo, "deploy/kserve")], { encoding: "utf8" });
const objects = YAML.parseAllDocuments(text).map((d) => d.toJS());

// The documented shape of KServe's fields: "string", "bool", "int", ["enum", ...values],
// { nested fields }, [element shape] for lists, "container" / "resources" / "pod:<field>" for
// Kubernetes types checked against the Kubernetes OpenAPI schema.
const kMetadata = { name: "string", namespace: "string", labels: "map", annotations: "map" };
const kProtocols = ["enum", "v1", "v2", "grpc-v1", "grpc-v2"];
const kServingRuntime = {
  apiVersion: ["enum", "serving.kserve.io/v1alpha1"],
  kind: ["enum", "ServingRuntime"],
  metadata: kMetadata,
  spec: {
    supportedModelFormats: [{ name: "string", version: "string", autoSelect: "bool", priority: "int" }],
    protocolVersions: [kProtocols],
    multiModel: "bool",
    disabled: "bool",
    grpcEndpoint: "string",
    grpcDataEndpoint: "string",
    httpDataEndpoint: "string",
    replicas: "int",
    containers: ["container"],
    volumes: "pod:volumes",
    nodeSelector: "map",
    affinity: "pod:affinity",
    tolerations: "pod:tolerations",
    imagePullSecrets: "pod:imagePullSecrets",
    labels: "map",
    annotations: "map",
  },
};
const kInferenceService = {
  apiVersion: ["enum", "serving.kserve.io/v1beta1"],
  kind: ["enum", "InferenceService"],
  metadata: kMetadata,
  spec: {
    predictor: {
      minReplicas: "int",
      maxReplicas: "int",
      scaleMetric: ["enum", "cpu", "memory", "concurrency", "rps"],
      scaleTarget: "int",
      containerConcurrency: "int",
      timeout: "int",
      canaryTrafficPercent: "int",
      serviceAccountName: "string",
      model: {
        modelFormat: { name: "string", version: "string" },
        runtime: "string",
        protocolVersion: kProtocols,
        storageUri: "string",
        runtimeVersion: "string",
        args: ["string"],
        env: "container:env",
        resources: "container:resources",
      },
    },
  },
};
const kNamespace = {
  apiVersion: ["enum", "v1"], kind: ["enum", "Namespace"], metadata: kMetadata,
};

// Fields of a Kubernetes value that its OpenAPI type does not define, as JSON paths.
function unknownFields(value, type, where, errors) {
  if (value === null || value === undefined) return;
  let m = /^Array<(.+)>$/.exec(type);
  if (m) {
    if (Array.isArray(value)) value.forEach((v, i) => unknownFields(v, m[1], `${where}[${i}]`, errors));
    return;
  }
  m = /^\{ \[key: string\]: (.+); \}$/.exec(type);
  if (m) {
    for (const [k, v] of Object.entries(value)) unknownFields(v, m[1], `${where}.${k}`, errors);
    return;
  }
  const model = openapi[type];
  if (typeof model?.getAttributeTypeMap !== "function" || typeof value !== "object") return;
  const fields = new Map(model.getAttributeTypeMap().map((a) => [a.baseName, a.type]));
  for (const [k, v] of Object.entries(value)) {
    if (!fields.has(k)) errors.push(`${where}.${k}: unknown field (not in ${type})`);
    else unknownFields(v, fields.get(k), `${where}.${k}`, errors);
  }
}

// A Kubernetes value checked strictly inside a Pod (schema, then unknown fields).
function checkInPod(podSpec, where, errors) {
  const pod = { apiVersion: "v1", kind: "Pod", metadata: { name: "check" }, spec: podSpec };
  try {
    new Pod(structuredClone(pod)).validate();
  } catch (e) {
    errors.push(`${where}: ${e.message}`);
  }
  unknownFields(pod, "V1Pod", where, errors);
}

function check(value, shape, where, errors) {
  if (typeof shape === "string") {
    if (shape === "string" && typeof value !== "string") errors.push(`${where}: not a string`);
    if (shape === "bool" && typeof value !== "boolean") errors.push(`${where}: not a bool`);
    if (shape === "int" && !Number.isInteger(value)) errors.push(`${where}: not an integer`);
    if (shape === "map" && (typeof value !== "object" || Object.values(value).some((v) => typeof v !== "string")))
      errors.push(`${where}: not a map of strings`);
    if (shape === "container") checkInPod({ containers: [value] }, where, errors);
    if (shape.startsWith("pod:")) checkInPod({ containers: [{ name: "c" }], [shape.slice(4)]: value }, where, errors);
    if (shape.startsWith("container:"))
      checkInPod({ containers: [{ name: "c", [shape.slice(10)]: value }] }, where, errors);
    return;
  }
  if (Array.isArray(shape) && shape[0] === "enum") {
    if (!shape.slice(1).includes(value)) errors.push(`${where}: ${JSON.stringify(value)} not in ${shape.slice(1)}`);
    return;
  }
  if (Array.isArray(shape)) {
    if (!Array.isArray(value)) return errors.push(`${where}: not a list`);
    value.forEach((v, i) => check(v, shape[0], `${where}[${i}]`, errors));
    return;
  }
  if (typeof value !== "object" || value === null || Array.isArray(value)) return errors.push(`${where}: not an object`);
  for (const [k, v] of Object.entries(value)) {
    if (!(k in shape)) errors.push(`${where}.${k}: not a field KServe documents here`);
    else check(v, shape[k], `${where}.${k}`, errors);
  }
}

function errorsOf(object) {
  const shape = { ServingRuntime: kServingRuntime, InferenceService: kInferenceService, Namespace: kNamespace }[object.kind];
  if (!shape) return [`unexpected kind ${object.kind}`];
  const errors = [];
  check(object, shape, object.kind, errors);
  return errors;
}

const only = (kind) => {
  const found = objects.filter((o) => o.kind === kind);
  assert.equal(found.length, 1, `one ${kind}`);
  return found[0];
};

describe("deploy/kserve", () => {
  const runtime = only("ServingRuntime");
  const isvc = only("InferenceService");
  const namespace = only("Namespace");
  const container = runtime.spec.containers[0];
  const env = Object.fromEntries(container.env.filter((e) => "value" in e).map((e) => [e.name, e.value]));

  test("renders a Namespace, a ServingRuntime and an InferenceService, all in the namespace", () => {
    assert.equal(objects.length, 3);
    for (const o of [runtime, isvc]) assert.equal(o.metadata.namespace, namespace.metadata.name);
    assert.equal(namespace.metadata.labels["pod-security.kubernetes.io/enforce"], "restricted");
  });

  test("every field is one KServe (and Kubernetes) documents", () => {
    for (const o of objects) assert.deepEqual(errorsOf(o), [], `${o.kind} ${o.metadata.name}`);
  });

  test("the field check rejects unknown fields and bad enums", () => {
    const bad = structuredClone(runtime);
    bad.spec.protocolVersions.push("v3");
    bad.spec.containers[0].imagePolicy = "Always";
    bad.spec.supportedModelFormats[0].colour = "red";
    const errors = errorsOf(bad);
    assert.ok(errors.some((e) => /protocolVersions\[2\]: "v3" not in/.test(e)), errors.join("\n"));
    assert.ok(errors.some((e) => /imagePolicy: unknown field/.test(e)), errors.join("\n"));
    assert.ok(errors.some((e) => /colour: not a field KServe documents/.test(e)), errors.join("\n"));
  });

  test("the runtime speaks v2 over HTTP and gRPC on the ports actd is given", () => {
    assert.deepEqual([...runtime.spec.protocolVersions].sort(), ["grpc-v2", "v2"]);
    const ports = Object.fromEntries(container.ports.map((p) => [p.name, p.containerPort]));
    assert.deepEqual(ports, { http1: kHttpPort, h2c: kGrpcPort });
    assert.equal(Number(env.ACTD_HTTP_PORT), kHttpPort);
    assert.equal(Number(env.ACTD_PORT), kGrpcPort);
    assert.equal(env.ACTD_HOST, "0.0.0.0");
    assert.equal(env.ACTD_METRICS_PORT, runtime.metadata.annotations["prometheus.kserve.io/port"]);
    assert.equal(container.name, "kserve-container");
  });

  test("probes use the protocol's health endpoints", () => {
    assert.deepEqual(container.readinessProbe.httpGet, { path: "/v2/health/ready", port: kHttpPort });
    assert.deepEqual(container.livenessProbe.httpGet, { path: "/v2/health/live", port: kHttpPort });
  });

  test("the InferenceService is served by this runtime over v2, with nothing to download", () => {
    const model = isvc.spec.predictor.model;
    assert.equal(model.runtime, runtime.metadata.name);
    assert.ok(runtime.spec.supportedModelFormats.some(
      (f) => f.name === model.modelFormat.name && f.version === model.modelFormat.version));
    assert.ok(runtime.spec.protocolVersions.includes(model.protocolVersion));
    assert.equal(model.storageUri, undefined);
    assert.equal(isvc.metadata.annotations["serving.kserve.io/deploymentMode"], "RawDeployment");
  });

  test("a pinned image, requests equal limits, a restricted security context", () => {
    const m = /^(.+?):([^:/@]+)$/.exec(container.image);
    assert.ok(m && m[2] !== "latest", container.image);
    assert.match(m[1], /(^|\/)actd$/);
    for (const r of [container.resources, isvc.spec.predictor.model.resources]) {
      assert.deepEqual(r.requests, r.limits);
    }
    const sc = container.securityContext;
    assert.equal(sc.runAsNonRoot, true);
    assert.equal(sc.allowPrivilegeEscalation, false);
    assert.deepEqual(sc.capabilities.drop, ["ALL"]);
  });

  test("nothing is left to fill in", () => {
    assert.doesNotMatch(text, /<[a-z-]+>|TODO|CHANGE ?ME|FIXME|\$\{/i);
  });
});
