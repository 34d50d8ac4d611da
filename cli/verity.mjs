#!/usr/bin/env node
// Launcher: the CLI is TypeScript (cli/main.ts), run through tsx so that it shares the Worker's
// planes (worker/) as source, with no build step.
import { register } from "tsx/esm/api";

register();
await import("./main.ts");
