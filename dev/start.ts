/** `npm start`: the whole local stack in the foreground until Ctrl-C. */
import { startStack } from "./stack.ts";

const stack = await startStack();
console.log("\nReady. Get a token with `npm run --silent token -- alice`; Ctrl-C stops everything.");

let stopping = false;
async function shutdown(signal: string): Promise<void> {
  if (stopping) return;
  stopping = true;
  console.log(`\n${signal}: stopping the stack…`);
  await stack.stop();
  process.exit(0);
}
process.on("SIGINT", () => void shutdown("SIGINT"));
process.on("SIGTERM", () => void shutdown("SIGTERM"));
