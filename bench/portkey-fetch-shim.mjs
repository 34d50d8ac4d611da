// Preloaded into the Portkey child process (node --import). Works around a crash of Portkey's
// streaming path on Node: Portkey wraps the upstream reply as `new Response(stream, upstreamResponse)`
// and then appends headers to it; @hono/node-server's Response (which replaces the global one)
// reuses the init's Headers object, and a Headers from fetch() is immutable, so every streamed
// request fails with "TypeError: immutable" (HTTP 500). The shim hands Portkey upstream replies whose
// headers are mutable: same status, headers and body stream, no copying of the body.
const UndiciResponse = globalThis.Response;
const originalFetch = globalThis.fetch;

globalThis.fetch = async function fetchWithMutableHeaders(input, init) {
  const response = await originalFetch(input, init);
  if (response.status === 101 || response.type === "opaqueredirect") return response;
  return new UndiciResponse(response.body, { status: response.status, statusText: response.statusText, headers: new Headers(response.headers) });
};
