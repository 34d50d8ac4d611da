import { it } from "vitest";
import { gatewayFetch, chatBody } from "../../support/gateway.ts";
const H: Record<string,string> = { "keep-alive": "timeout=5", te: "trailers", upgrade: "websocket", "proxy-authorization": "Basic x", cookie: "a=b", forwarded: "for=1", "x-forwarded-proto": "http", "x-forwarded-host": "admin.internal" };
it("debug", async () => {
  for (const [k, v] of Object.entries(H)) {
    const r = await gatewayFetch("/v1/chat/completions", { method: "POST", body: chatBody("x"), headers: { "content-type": "application/json", [k]: v } });
    console.log(k, r.status, await r.text());
  }
});
