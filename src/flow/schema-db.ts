/** Table types of the flow subsystem, merged into the Kysely schema. */
export interface GlobalVariablesTable {
  name: string;
  /** The value, or for a secret one the SecretBox seal of it. */
  value: string;
  /** 0 or 1 */
  secret: number;
  created_at: number;
  updated_at: number;
}

declare module "../storage/schema.js" {
  interface Database {
    global_variables: GlobalVariablesTable;
  }
}
