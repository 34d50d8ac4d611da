import type { Env as WorkerEnv } from "../../worker/context.ts";

declare global {
  namespace Cloudflare {
    interface Env extends WorkerEnv {}
  }
}
