/** Who is acting: the verified facts taken from an OIDC access token. */
export interface Identity {
  /** `sub` claim. */
  readonly subject: string;
  /** `client_id`, or Okta's `cid`; undefined when the token carries neither. */
  readonly clientId: string | undefined;
  /** From the issuer's configured groups claim; empty when absent. */
  readonly groups: readonly string[];
  /** From `scope` (space separated) or Okta's `scp` (array). */
  readonly scopes: readonly string[];
  /** `iss` claim, exactly as verified. */
  readonly issuer: string;
  /** `exp` as epoch milliseconds: sessions opened with this token end then. */
  readonly expiresAt: number;
}
