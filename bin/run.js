#!/usr/bin/env node
import {execute} from '@oclif/core'

// The AWS SDK warns on every run under Node 20 that its 2027 releases will need Node 22. The versions this package
// pins support Node 20; the warning is for whoever upgrades them, not for the engineer running a migration.
process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED ??= 'true'

await execute({dir: import.meta.url})
