#!/usr/bin/env -S node --max-semi-space-size=8
// --max-semi-space-size: V8 grows the young generation to 32 MiB in any run longer than about half a second; capped
// at 16 MiB, peak memory stays flat however many files a run sees (the objects of a walk die young either way).
import {execute} from '@oclif/core'

// The AWS SDK warns on every run under Node 20 that its 2027 releases will need Node 22. The versions this package
// pins support Node 20; the warning is for whoever upgrades them, not for the engineer running a migration.
process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED ??= 'true'

await execute({dir: import.meta.url})
