import { chmod, lstat, mkdir } from 'node:fs/promises';
import { PrerequisiteError } from '../../src/errors.js';

/**
 * The state root holds what the provider acts on as root (pids it kills, addresses it releases, dirs it
 * removes), so only root may be able to write it: owned by root, mode 0700, a real directory (not a symlink).
 * A missing root is created that way when `create` is set; otherwise there is nothing to trust yet.
 */
export async function checkStateRoot(root: string, options: { create?: boolean } = {}): Promise<void> {
  if (options.create) {
    const made = await mkdir(root, { recursive: true, mode: 0o700 });
    if (made !== undefined) await chmod(root, 0o700); // the umask may have narrowed or the mode been ignored
  }
  const st = await lstat(root).catch((err: NodeJS.ErrnoException) => {
    if (err.code === 'ENOENT') return undefined;
    if (err.code === 'EACCES' || err.code === 'EPERM') {
      throw new PrerequisiteError(
        `the local provider records its VMs under ${root}, which only root can read: run this command as root ` +
          '(local VMs are Linux namespaces, made and seen by root alone)',
        { option: 'stateRoot', path: root, code: err.code },
      );
    }
    throw err;
  });
  if (!st) return;
  const mode = st.mode & 0o777;
  if (st.isDirectory() && !st.isSymbolicLink() && st.uid === 0 && mode === 0o700) return;
  const what = st.isSymbolicLink() ? 'a symbolic link' : st.isDirectory() ? 'a directory' : 'not a directory';
  throw new PrerequisiteError(
    `the local provider's state root ${root} is ${what} owned by uid ${st.uid} with mode ` +
      `${mode.toString(8).padStart(4, '0')}; it must be a directory owned by root with mode 0700, since the ` +
      `provider kills, releases and removes what it records there: run "chown root:root ${root} && chmod 700 ${root}" ` +
      '(or point the stateRoot setting at a fresh path)',
    { option: 'stateRoot', path: root, uid: st.uid, mode: `0${mode.toString(8)}` },
  );
}
