/**
 * The Hono app over its dependencies. `worker/index.ts` builds it once per isolate with the real
 * ones; tests build it with a dependency told to fail (an audit log that cannot commit, …).
 */
import { Hono, type Context } from "hono";
import {
  handleAuditCheckpoint,
  handleAuditEntries,
  handleAuditExport,
  handleAuditHead,
  handleAuditTile,
  handleConsistencyProof,
  handleInclusionProof,
  handleJwks,
} from "./audit-routes.ts";
import type { AppEnv } from "./env.ts";
import { asGatewayError, errorResponse, GatewayError, type WireFormat } from "./errors.ts";
import { configAudit, continuousOf, type PipelineDeps } from "./caller.ts";
import { createCors, networkPlan } from "./network/index.ts";
import { handleModels } from "./models-route.ts";
import { handleChat } from "./pipeline.ts";
import { createSsfReceiver } from "./ssf-routes.ts";
import { handleErasure, handlePayloadRead, handleRewrap } from "./vault-routes.ts";
import { handleToolInvoke } from "./tools/index.ts";
import { handleMcpDelete, handleMcpGet, handleMcpPost, handleMcpResourceMetadata } from "./mcp-routes.ts";

/** Errors speak the route's wire format: Anthropic on /v1/messages and for Anthropic clients. */
function wireFormatOf(request: Request): WireFormat {
  const path = new URL(request.url).pathname;
  if (path === "/v1/messages" || (path === "/v1/models" && request.headers.has("anthropic-version"))) return "anthropic";
  return "openai";
}

const METHODS = [
  ["/v1/chat/completions", "POST"],
  ["/v1/messages", "POST"],
  ["/v1/models", "GET"],
  ["/healthz", "GET"],
  ["/ssf/events", "POST"],
  ["/admin/:tenant/erasure", "POST"],
  ["/v1/tools/:tool/invoke", "POST"],
] as const;

export function createApp(deps: PipelineDeps): Hono<AppEnv> {
  const app = new Hono<AppEnv>();

  app.use("*", async function assignRequestId(c, next) {
    c.set("state", { requestId: crypto.randomUUID(), format: wireFormatOf(c.req.raw), receivedAt: Date.now() });
    await next();
    c.res.headers.set("x-request-id", c.var.state.requestId);
  });
  // CORS closed by default (worker/network/cors.ts): preflights are answered here, before any route.
  app.use("*", createCors(async (c) => networkPlan((await deps.config.current(c.env, configAudit(() => deps.audit(c.env), c.var.state))).registry)));
  app.use("*", continuousOf(deps).observeRequests(deps.audit));

  app.onError(function renderError(error, c: Context<AppEnv>) {
    const refusal = asGatewayError(error);
    const state = c.var.state;
    if (refusal.status >= 500) {
      console.error(JSON.stringify({ event: "request_failed", requestId: state.requestId, code: refusal.code, cause: String(refusal.cause ?? refusal) }));
    }
    return errorResponse(refusal, state.format, state.requestId);
  });

  app.notFound(function routeNotFound(c: Context<AppEnv>) {
    return errorResponse(new GatewayError("not_found", "no such route"), c.var.state.format, c.var.state.requestId);
  });

  app.get("/healthz", (c) => c.text("ok"));
  app.post("/v1/chat/completions", (c) => handleChat(c, deps));
  app.post("/v1/messages", (c) => handleChat(c, deps));
  app.get("/v1/models", (c) => handleModels(c, deps));
  app.get("/audit/:tenant/head", (c) => handleAuditHead(c, deps));
  app.get("/audit/:tenant/entries", (c) => handleAuditEntries(c, deps));
  app.get("/audit/:tenant/export", (c) => handleAuditExport(c, deps));
  app.get("/audit/:tenant/checkpoint", (c) => handleAuditCheckpoint(c, deps));
  app.get("/audit/:tenant/proof/inclusion", (c) => handleInclusionProof(c, deps));
  app.get("/audit/:tenant/proof/consistency", (c) => handleConsistencyProof(c, deps));
  app.get("/audit/:tenant/tile/*", (c) => handleAuditTile(c, deps));
  app.get("/audit/:tenant/payload/:id", (c) => handlePayloadRead(c, deps));
  app.post("/admin/:tenant/erasure", (c) => handleErasure(c, deps));
  app.post("/admin/:tenant/vault/rewrap", (c) => handleRewrap(c, deps));
  app.get("/.well-known/jwks.json", (c) => handleJwks(c));
  app.post("/ssf/events", createSsfReceiver(deps));
  app.post("/v1/tools/:tool/invoke", (c) => handleToolInvoke(c, deps));
  app.post("/mcp/:server", (c) => handleMcpPost(c, deps));
  app.get("/mcp/:server", (c) => handleMcpGet(c));
  app.delete("/mcp/:server", (c) => handleMcpDelete(c, deps));
  app.get("/.well-known/oauth-protected-resource/mcp/:server", (c) => handleMcpResourceMetadata(c, deps));

  for (const [path, allow] of METHODS) {
    app.all(path, function wrongMethod() {
      throw new GatewayError("method_not_allowed", `this route accepts ${allow} only`, { headers: { allow } });
    });
  }
  return app;
}
