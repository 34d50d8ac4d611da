/**
 * The classifier benchmark's Worker (bench/classify.ts): runs the gateway's own `classify` (the code
 * the pipeline calls per request) in workerd, `n` calls per HTTP request, so the Node side can time
 * batches from outside.
 *
 *   POST /setup   body: JSON { prompt: string, mixed: string } — the texts to classify
 *   POST /run?kind=prompt|mixed&n=N   N classifications, answers 204
 *   GET  /healthz
 */
import { classify } from "../worker/data/index.ts";

let texts: { prompt: string; mixed: string } | undefined;
/** Kept so the work cannot be optimised away. */
let sink = 0;

export default {
  async fetch(req: Request): Promise<Response> {
    const url = new URL(req.url);
    if (url.pathname === "/healthz") return new Response("ok");
    if (url.pathname === "/setup") {
      texts = (await req.json()) as { prompt: string; mixed: string };
      return new Response(null, { status: 204 });
    }
    if (url.pathname === "/run" && texts) {
      const n = Number(url.searchParams.get("n") ?? "1");
      const text = url.searchParams.get("kind") === "mixed" ? texts.mixed : texts.prompt;
      for (let i = 0; i < n; i++) sink += classify([text]).findings.length;
      return new Response(null, { status: 204, headers: { "x-sink": String(sink) } });
    }
    return new Response("not found", { status: 404 });
  },
};
