/** Who a request acts for: a token's name (the owner of the clones it makes) and whether it is an admin. */
export interface Principal {
  name: string;
  admin: boolean;
}

/** The host's own CLI (root on the engine's host): an admin, and the owner of the clones it makes. */
export const LOCAL_PRINCIPAL: Principal = { name: 'local', admin: true };

/** A token as listed: never its secret, which exists only in what `token create` printed. */
export interface TokenInfo {
  name: string;
  admin: boolean;
  created_at: string;
  revoked_at: string | null;
}
