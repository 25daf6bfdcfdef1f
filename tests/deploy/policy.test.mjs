// Policy checks on the rendered actd manifests: what a production deployment of actd must have,
// beyond being valid Kubernetes objects (validate-manifests.mjs checks that). Each overlay under
// deploy/k8s/overlays is rendered with `kubectl kustomize` and checked; the Dockerfile is read too,
// so the ports and the user of the image and of the manifests cannot drift apart.
//
// Usage: node --test policy.test.mjs   (ACTD_REPO names the repository root; default ../..)
import assert from "node:assert/strict";
import { execFileSync } from "node:child_process";
import { readFileSync } from "node:fs";
import path from "node:path";
import { describe, test } from "node:test";

import YAML from "yaml";

const repo = path.resolve(process.env.ACTD_REPO ?? path.join(import.meta.dirname, "../.."));
const kGrpcPort = 50051;
const kMetricsPort = 8002;
const kHttpPort = 8000;
const kUser = 65532;

function render(overlay) {
  const text = execFileSync("kubectl", ["kustomize", path.join(repo, "deploy/k8s/overlays", overlay)], {
    encoding: "utf8",
  });
  return YAML.parseAllDocuments(text).map((d) => d.toJS());
}

// The single object of a kind (and name, when given); fails when there is not exactly one.
function only(objects, kind, name) {
  const found = objects.filter((o) => o.kind === kind && (name === undefined || o.metadata.name === name));
  assert.equal(found.length, 1, `expected one ${kind}${name ? ` ${name}` : ""}, found ${found.length}`);
  return found[0];
}

// True when every label of `selector` (a matchLabels map) is on `labels`.
function selects(selector, labels) {
  return Object.keys(selector).length > 0 && Object.entries(selector).every(([k, v]) => labels[k] === v);
}

// Parses a CPU quantity ("2", "1500m") into cores.
function cores(quantity) {
  const s = String(quantity);
  return s.endsWith("m") ? Number(s.slice(0, -1)) / 1000 : Number(s);
}

const dockerfile = readFileSync(path.join(repo, "Dockerfile"), "utf8");

describe("Dockerfile", () => {
  test("builds on debian:bookworm and runs on debian:bookworm-slim", () => {
    const froms = [...dockerfile.matchAll(/^FROM\s+(\S+)/gm)].map((m) => m[1]);
    assert.deepEqual(froms, ["debian:bookworm", "debian:bookworm-slim"]);
    assert.match(dockerfile, /install-deps\.sh build/);
    assert.match(dockerfile, /install-deps\.sh runtime/);
  });
  test("runs actd as uid 65532 and exposes the gRPC, HTTP and metrics ports", () => {
    assert.match(dockerfile, new RegExp(`^USER ${kUser}:${kUser}$`, "m"));
    assert.match(dockerfile, new RegExp(`^EXPOSE ${kGrpcPort} ${kHttpPort} ${kMetricsPort}$`, "m"));
    assert.match(dockerfile, /^ENTRYPOINT \["actd"\]$/m);
    assert.match(dockerfile, /org\.opencontainers\.image\.version=/);
    assert.match(dockerfile, /org\.opencontainers\.image\.source=/);
  });
});

for (const overlay of ["dev", "prod"]) {
  describe(`overlay ${overlay}`, () => {
    const objects = render(overlay);
    const namespace = only(objects, "Namespace");
    const deployment = only(objects, "Deployment", "actd");
    const pod = deployment.spec.template;
    const podLabels = pod.metadata.labels;
    const spec = pod.spec;
    const container = spec.containers.find((c) => c.name === "actd");
    const configMap = only(objects, "ConfigMap");
    const config = configMap.data;

    test("every namespaced object is in the overlay's namespace, which enforces restricted", () => {
      for (const o of objects.filter((o) => o.kind !== "Namespace")) {
        assert.equal(o.metadata.namespace, namespace.metadata.name, `${o.kind} ${o.metadata.name}`);
      }
      assert.equal(namespace.metadata.labels["pod-security.kubernetes.io/enforce"], "restricted");
    });

    test("image tag is pinned and not latest", () => {
      assert.ok(container, "a container named actd");
      const image = container.image;
      const m = /^(.+?)(?::([^:/@]+))?(@sha256:[0-9a-f]{64})?$/.exec(image);
      assert.ok(m[2] || m[3], `image ${image} has neither tag nor digest`);
      assert.notEqual(m[2], "latest", `image ${image}`);
      assert.match(m[1], /(^|\/)actd$/);
    });

    test("native gRPC startup, readiness and liveness probes on the health service", () => {
      for (const probe of ["startupProbe", "readinessProbe", "livenessProbe"]) {
        const p = container[probe];
        assert.ok(p?.grpc, `${probe} is a gRPC probe`);
        assert.equal(p.grpc.port, kGrpcPort, `${probe} port`);
        assert.ok(p.grpc.service === undefined || p.grpc.service === "", `${probe} checks the server`);
        assert.equal(p.httpGet, undefined);
        assert.equal(p.exec, undefined);
      }
      // The startup probe allows a slow start; liveness only takes over after it.
      const s = container.startupProbe;
      assert.ok((s.periodSeconds ?? 10) * (s.failureThreshold ?? 3) >= 30, "startup window >= 30 s");
    });

    test("CPU and memory requests equal limits (Guaranteed QoS)", () => {
      const { requests, limits } = container.resources;
      for (const r of ["cpu", "memory"]) {
        assert.ok(limits?.[r], `limits.${r} set`);
        assert.equal(String(requests?.[r]), String(limits[r]), `requests.${r} == limits.${r}`);
      }
      assert.ok(cores(limits.cpu) >= 1, "at least one CPU, so compute threads >= 1");
    });

    test("compute threads come from the CPU limit through the downward API", () => {
      const env = container.env.find((e) => e.name === "ACTD_COMPUTE_THREADS");
      assert.deepEqual(env?.valueFrom?.resourceFieldRef, {
        containerName: "actd",
        resource: "limits.cpu",
        divisor: "1",
      });
    });

    test("flags come from the ConfigMap as ACTD_* variables", () => {
      const from = container.envFrom.map((e) => e.configMapRef?.name);
      assert.deepEqual(from, [configMap.metadata.name]);
      for (const key of Object.keys(config)) assert.match(key, /^ACTD_[A-Z_]+$/);
      assert.equal(Number(config.ACTD_PORT), kGrpcPort);
      assert.equal(Number(config.ACTD_METRICS_PORT), kMetricsPort);
      assert.equal(config.ACTD_HOST, "0.0.0.0", "probes and Services reach the pod IP");
      // A Service named actd would otherwise inject ACTD_PORT=tcp://... into the environment.
      assert.equal(spec.enableServiceLinks, false);
    });

    test("grace period exceeds preStop pause plus --shutdown_grace", () => {
      const shutdownGrace = Number(config.ACTD_SHUTDOWN_GRACE);
      assert.ok(shutdownGrace > 0, `ACTD_SHUTDOWN_GRACE=${config.ACTD_SHUTDOWN_GRACE}`);
      const command = container.lifecycle?.preStop?.exec?.command;
      assert.equal(command?.[0], "/bin/sleep", "preStop pauses with the image's /bin/sleep");
      const pause = Number(command[1]);
      assert.ok(pause >= 1, `preStop pause ${command[1]}`);
      assert.ok(
        spec.terminationGracePeriodSeconds > pause + shutdownGrace,
        `terminationGracePeriodSeconds ${spec.terminationGracePeriodSeconds} > ${pause} + ${shutdownGrace}`,
      );
    });

    test("restricted security context", () => {
      assert.equal(spec.securityContext.runAsNonRoot, true);
      assert.equal(spec.securityContext.runAsUser, kUser);
      assert.equal(spec.securityContext.seccompProfile?.type, "RuntimeDefault");
      assert.equal(spec.automountServiceAccountToken, false);
      for (const c of [...spec.containers, ...(spec.initContainers ?? [])]) {
        const sc = c.securityContext;
        assert.equal(sc.runAsNonRoot, true, c.name);
        assert.equal(sc.runAsUser, kUser, c.name);
        assert.equal(sc.readOnlyRootFilesystem, true, c.name);
        assert.equal(sc.allowPrivilegeEscalation, false, c.name);
        assert.notEqual(sc.privileged, true, c.name);
        assert.deepEqual(sc.capabilities?.drop, ["ALL"], c.name);
        assert.equal(sc.capabilities?.add, undefined, c.name);
        assert.equal(sc.seccompProfile?.type, "RuntimeDefault", c.name);
      }
      assert.equal(spec.hostNetwork, undefined);
      assert.equal(spec.hostPID, undefined);
    });

    test("pods spread over nodes and zones", () => {
      const keys = spec.topologySpreadConstraints.map((t) => t.topologyKey).sort();
      assert.deepEqual(keys, ["kubernetes.io/hostname", "topology.kubernetes.io/zone"]);
      for (const t of spec.topologySpreadConstraints) {
        assert.ok(selects(t.labelSelector.matchLabels, podLabels), t.topologyKey);
        assert.equal(t.maxSkew, 1);
      }
    });

    test("Prometheus scrapes /metrics on 8002", () => {
      const a = pod.metadata.annotations;
      assert.equal(a["prometheus.io/scrape"], "true");
      assert.equal(a["prometheus.io/port"], String(kMetricsPort));
      assert.equal(a["prometheus.io/path"], "/metrics");
      const ports = Object.fromEntries(container.ports.map((p) => [p.name, p.containerPort]));
      assert.deepEqual(ports, { grpc: kGrpcPort, metrics: kMetricsPort });
    });

    test("ClusterIP Service actd and headless Service actd-headless on 50051", () => {
      const clusterIp = only(objects, "Service", "actd");
      assert.equal(clusterIp.spec.type ?? "ClusterIP", "ClusterIP");
      assert.notEqual(clusterIp.spec.clusterIP, "None");
      const headless = only(objects, "Service", "actd-headless");
      assert.equal(headless.spec.clusterIP, "None");
      assert.notEqual(headless.spec.publishNotReadyAddresses, true, "only ready pods in DNS");
      for (const s of [clusterIp, headless]) {
        assert.ok(selects(s.spec.selector, podLabels), `${s.metadata.name} selects the pods`);
        const grpc = s.spec.ports.find((p) => p.name === "grpc");
        assert.equal(grpc.port, kGrpcPort);
        assert.ok(grpc.targetPort === "grpc" || grpc.targetPort === kGrpcPort);
      }
    });

    test("PodDisruptionBudget policy/v1 covers the pods", () => {
      const pdb = only(objects, "PodDisruptionBudget");
      assert.equal(pdb.apiVersion, "policy/v1");
      assert.ok(selects(pdb.spec.selector.matchLabels, podLabels));
      assert.ok(pdb.spec.maxUnavailable === 1 || pdb.spec.minAvailable !== undefined);
    });

    test("NetworkPolicy admits only 50051 and 8002", () => {
      const np = only(objects, "NetworkPolicy");
      assert.ok(selects(np.spec.podSelector.matchLabels, podLabels));
      assert.ok(np.spec.policyTypes.includes("Ingress"));
      const admitted = [];
      for (const rule of np.spec.ingress) {
        assert.ok(rule.ports?.length > 0, "every ingress rule names its ports");
        for (const p of rule.ports) admitted.push(`${p.port}/${p.protocol ?? "TCP"}`);
      }
      assert.deepEqual(admitted.sort(), [`${kGrpcPort}/TCP`, `${kMetricsPort}/TCP`].sort());
    });

    if (overlay === "dev") {
      test("dev: one replica, debug logs, no autoscaler", () => {
        assert.equal(deployment.spec.replicas, 1);
        assert.equal(config.ACTD_LOG_LEVEL, "debug");
        assert.equal(objects.filter((o) => o.kind === "HorizontalPodAutoscaler").length, 0);
      });
    } else {
      test("prod: CPU autoscaler (autoscaling/v2) over the Deployment, info logs", () => {
        const hpa = only(objects, "HorizontalPodAutoscaler");
        assert.equal(hpa.apiVersion, "autoscaling/v2");
        assert.deepEqual(hpa.spec.scaleTargetRef, { apiVersion: "apps/v1", kind: "Deployment", name: "actd" });
        assert.ok(hpa.spec.minReplicas >= 2, "at least two pods, so one can be disrupted");
        assert.ok(hpa.spec.maxReplicas > hpa.spec.minReplicas);
        const cpu = hpa.spec.metrics.find((m) => m.type === "Resource" && m.resource.name === "cpu");
        assert.equal(cpu?.resource.target.type, "Utilization");
        assert.ok(cpu.resource.target.averageUtilization > 0 && cpu.resource.target.averageUtilization < 100);
        assert.ok(deployment.spec.replicas >= hpa.spec.minReplicas);
        assert.equal(config.ACTD_LOG_LEVEL, "info");
        assert.equal(config.ACTD_LOG_FORMAT, "json");
      });
    }
  });
}
