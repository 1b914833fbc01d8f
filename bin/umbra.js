#!/usr/bin/env node
// The `umbra` command: TypeScript sources run through tsx, registered before the CLI loads
// (a dynamic import, because static imports would be resolved before `register()` runs).
import { register } from "tsx/esm/api"

register()
await import("../services/cli/main.ts")
