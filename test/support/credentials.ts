/**
 * What a test compares to prove that no production credential reaches a clone: every credential
 * of a server's account table (hex), and every row of a clone's account table (hex). `query` runs
 * one script and returns the first column of its last row (mariadbQuery / mysqlQuery).
 */
type Query = (sql: string) => Promise<string>;

const WHOLE = 'SET SESSION group_concat_max_len = 16777216; ';

/** The hex of every password hash or plugin string (a secondary password included) of a server's accounts. */
export async function accountCredentials(query: Query, flavor: 'mariadb' | 'mysql'): Promise<string[]> {
  const sql =
    flavor === 'mysql'
      ? "SELECT GROUP_CONCAT(CONCAT(HEX(authentication_string), ' ', COALESCE(HEX(JSON_UNQUOTE(JSON_EXTRACT(User_attributes, '$.additional_password'))), '')) SEPARATOR ' ') FROM mysql.user WHERE User NOT IN ('mysql.sys', 'mysql.session', 'mysql.infoschema')"
      : "SELECT GROUP_CONCAT(CONCAT(HEX(JSON_VALUE(Priv, '$.authentication_string')), ' ', COALESCE(HEX(JSON_VALUE(Priv, '$.auth_or[0].authentication_string')), ''), ' ', COALESCE(HEX(JSON_VALUE(Priv, '$.auth_or[1].authentication_string')), '')) SEPARATOR ' ') FROM mysql.global_priv";
  return (await query(WHOLE + sql)).split(/\s+/).filter((h) => h.length >= 16);
}

/** Every row of a server's account table as `user@host HEX...`, one string (read as the clone's admin). */
export async function accountRowsHex(query: Query, flavor: 'mariadb' | 'mysql'): Promise<string> {
  const sql =
    flavor === 'mysql'
      ? "SELECT GROUP_CONCAT(CONCAT(User, '@', Host, ' ', HEX(authentication_string), ' ', HEX(COALESCE(User_attributes, ''))) SEPARATOR ' ') FROM mysql.user"
      : "SELECT GROUP_CONCAT(CONCAT(User, '@', Host, ' ', HEX(Priv)) SEPARATOR ' ') FROM mysql.global_priv";
  return query(WHOLE + sql);
}
