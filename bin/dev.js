#!/usr/bin/env -S node --import tsx
// Runs the TypeScript sources directly (no build), for development.
import {execute} from '@oclif/core'

process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED ??= 'true'

await execute({development: true, dir: import.meta.url})
