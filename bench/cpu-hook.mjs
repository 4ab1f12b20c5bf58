// Loaded with `node --import ./bench/cpu-hook.mjs …`: writes the process's CPU time (user + system, ms) to $BENCH_CPU_FILE
// on exit: on a shared, busy machine it shows the work done, which wall time does not.
import {writeFileSync} from 'node:fs'

const file = process.env.BENCH_CPU_FILE
if (file) process.on('exit', () => {
  const u = process.resourceUsage()
  writeFileSync(file, String((u.userCPUTime + u.systemCPUTime) / 1000))
})
