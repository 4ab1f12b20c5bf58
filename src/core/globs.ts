import {Minimatch} from 'minimatch'

import {usageError} from './errors.js'

/** Which relative paths sync takes: --include and --exclude globs, as rsync reads them. */
export interface PathFilter {
  (relPath: Buffer): boolean
  readonly active: boolean
}

const compile = (patterns: string[], flag: string): Minimatch[] =>
  patterns.map((p) => {
    const pattern = p.replace(/^\/+/, '').replace(/\/+$/, '')
    if (!pattern) throw usageError(`${flag} "${p}" is empty`, [`Pass a glob on the path relative to the user's home, e.g. ${flag} '**/*.tmp'.`])
    return new Minimatch(pattern, {dot: true, nonegate: true, nocomment: true})
  })

/**
 * A path is taken when it (or a directory above it) matches an --include (if any are given) and neither it nor a
 * directory above it matches an --exclude. Globs apply to the path relative to the user's home (or root), e.g.
 * `**\/*.tmp`, `cache`, `reports/2023/**`; dot files match like any other.
 */
export function pathFilter(include: string[] = [], exclude: string[] = []): PathFilter {
  const inc = compile(include, '--include')
  const exc = compile(exclude, '--exclude')
  const matchesSelfOrParent = (globs: Minimatch[], rel: string) => {
    let at = rel
    for (;;) {
      if (globs.some((g) => g.match(at))) return true
      const slash = at.lastIndexOf('/')
      if (slash < 0) return false
      at = at.slice(0, slash)
    }
  }
  const filter = ((relPath: Buffer) => {
    // Names that are not UTF-8 cannot become keys anyway; they are matched as decoded (replacement characters).
    const rel = relPath.toString('utf8')
    if (inc.length > 0 && !matchesSelfOrParent(inc, rel)) return false
    return !(exc.length > 0 && matchesSelfOrParent(exc, rel))
  }) as PathFilter
  Object.defineProperty(filter, 'active', {value: inc.length + exc.length > 0})
  return filter
}
