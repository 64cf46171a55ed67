export type AppRole = 'user' | 'admin';

/** Who is calling, as established by a verified JWT. */
export interface Principal {
  userId: string;
  role: AppRole;
  /**
   * The operator (organization) the org claim names, a lower-case uuid; null without one. An admin
   * with none is the platform admin; with one, that operator's admin only.
   */
  orgId: string | null;
  /** The verified claims, passed to Postgres as `request.jwt.claims` so RLS sees what Supabase would. */
  claims: Record<string, unknown>;
  /** Token expiry, epoch seconds. */
  expiresAt: number;
  /** The verified token itself, forwarded as the caller's credential when the data API is Supabase's. Never logged. */
  token: string;
}
