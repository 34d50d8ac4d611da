/** Port checks: the bench uses the dev ports of dev/config.ts, so `npm start` must not be running. */
import { createServer, type AddressInfo } from "node:net";

export function assertPortFree(port: number, what: string): Promise<void> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once("error", () =>
      reject(new Error(`port ${port} (${what}) is in use: stop \`npm start\` (or whatever holds it) before \`npm run bench\``)),
    );
    server.listen(port, "127.0.0.1", () => server.close(() => resolve()));
  });
}

/** A port that was free a moment ago on 127.0.0.1. */
export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once("error", reject);
    server.listen(0, "127.0.0.1", () => {
      const { port } = server.address() as AddressInfo;
      server.close(() => resolve(port));
    });
  });
}
