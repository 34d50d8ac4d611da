/** `GET /v1/models`: only the models this caller may use. */
import type { Context } from "hono";
import { authenticateCaller, commit, decisionRecord, stepUpRequired, type PipelineDeps } from "./caller.ts";
import type { Classification, NormalizedRequest } from "./context.ts";
import type { AppEnv } from "./env.ts";
import { policyFacts } from "./pipeline.ts";
import { invokeModelRequest, type Obligation } from "./policy/index.ts";

/** `GET /v1/models`: the models of every backend policy would let this caller use for public data. */
export async function handleModels(c: Context<AppEnv>, deps: PipelineDeps): Promise<Response> {
  const state = c.var.state;
  const { config, principal } = await authenticateCaller(c, deps);
  const publicData: Classification = { level: 0, categories: [], findings: [] };
  const emptyRequest: NormalizedRequest = { format: state.format, model: "", stream: false, texts: [], tools: [], body: {} };
  // The caller's facts once; only the model and the backend change from question to question.
  const facts = policyFacts(principal, emptyRequest, publicData, c.req.raw, c.var.state.receivedAt);
  const allowed = new Set<string>();
  const denialObligations: Obligation[] = [];
  for (const backend of config.registry.backends) {
    for (const model of backend.models) {
      if (allowed.has(model)) continue;
      const decision = config.pdp.decide(invokeModelRequest({ ...facts, model, backend: backend.id }));
      if (decision.effect === "allow") allowed.add(model);
      else denialObligations.push(...decision.obligations);
    }
  }
  const models = [...allowed].sort();
  // Nothing usable now, but a stronger login would open some: say so (RFC 9470) rather than list nothing.
  const stepUp = models.length === 0 ? stepUpRequired(denialObligations) : undefined;
  if (stepUp) {
    await commit(
      deps.audit(c.env),
      decisionRecord(state, principal, { action: "list_models", decision: "deny", code: stepUp.code, configVersion: config.version, policyVersion: config.pdp.version }),
    );
    throw stepUp;
  }
  await commit(
    deps.audit(c.env),
    decisionRecord(state, principal, {
      action: "list_models",
      decision: "allow",
      models,
      configVersion: config.version,
      policyVersion: config.pdp.version,
    }),
  );
  if (state.format === "anthropic") {
    return c.json({
      data: models.map((id) => ({ type: "model", id, display_name: id, created_at: "1970-01-01T00:00:00Z" })),
      has_more: false,
      first_id: models[0] ?? null,
      last_id: models.at(-1) ?? null,
    });
  }
  return c.json({ object: "list", data: models.map((id) => ({ id, object: "model", created: 0, owned_by: "verity" })) });
}
