// Preloaded into the Portkey child process (node --import): a server that is asked to listen on a
// port without naming a host listens on 127.0.0.1 instead of every interface.
import net from "node:net";

const listen = net.Server.prototype.listen;
net.Server.prototype.listen = function listenOnLoopback(...args) {
  if (typeof args[0] === "number" && args[1] === undefined) {
    args[1] = "127.0.0.1";
  } else if (typeof args[0] === "number" && typeof args[1] === "function") {
    args.splice(1, 0, "127.0.0.1");
  } else if (typeof args[0] === "object" && args[0] !== null && args[0].port !== undefined && args[0].host === undefined && args[0].path === undefined) {
    args[0] = { ...args[0], host: "127.0.0.1" };
  }
  return listen.apply(this, args);
};
