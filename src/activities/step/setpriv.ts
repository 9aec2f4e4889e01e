import { accessSync, constants } from 'node:fs';

/** util-linux's setpriv, which sets PR_SET_PDEATHSIG before exec; undefined where it is missing. */
export const SETPRIV = ['/usr/bin/setpriv', '/bin/setpriv'].find((p) => {
  try {
    accessSync(p, constants.X_OK);
    return true;
  } catch {
    return false;
  }
});
