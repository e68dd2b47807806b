// The symbols an addon imports from its host process, as Electron-readiness tests check them.
import { execFileSync } from 'node:child_process';

/**
 * Strong undefined dynamic symbols of `addonPath` that libc/libm do not provide. Weak ones (`w`) are left out: they
 * resolve to null when the host lacks them. For a Node-API-only addon every result starts with `napi_`/`node_api_`.
 */
export function hostSymbols(addonPath: string): string[] {
  return execFileSync('nm', ['-D', '--undefined-only', addonPath], { encoding: 'utf8' })
    .split('\n').map((l) => l.trim().split(/\s+/)).filter((f) => f.length === 2 && f[0] === 'U').map((f) => f[1])
    .filter((s) => !/@(GLIBC|GLIBCXX|CXXABI|GCC)_/.test(s));
}
