-- ioctl's PostgreSQL store, schema version 1: the tables of SQLite's workspace and Master Data
-- files, each row keyed by its account (and workspace), documents as JSONB.
CREATE TABLE settings (
  account text NOT NULL,
  workspace text NOT NULL,
  app text NOT NULL,
  value text NOT NULL,
  PRIMARY KEY (account, workspace, app)
);
CREATE TABLE settings_schemas (
  account text NOT NULL,
  workspace text NOT NULL,
  app text NOT NULL,
  schema text NOT NULL,
  PRIMARY KEY (account, workspace, app)
);
CREATE TABLE platform (
  account text NOT NULL,
  workspace text NOT NULL,
  key text NOT NULL,
  value text NOT NULL,
  PRIMARY KEY (account, workspace, key)
);
CREATE TABLE vbase (
  account text NOT NULL,
  workspace text NOT NULL,
  app text NOT NULL,
  bucket text NOT NULL,
  path text COLLATE "C" NOT NULL,
  data bytea NOT NULL,
  content_type text NOT NULL,
  gzip boolean NOT NULL DEFAULT false,
  hash text NOT NULL,
  expires_at bigint,
  updated_at bigint NOT NULL,
  PRIMARY KEY (account, workspace, app, bucket, path)
);
CREATE TABLE documents (
  seq bigserial NOT NULL,
  account text NOT NULL,
  entity text NOT NULL,
  id text NOT NULL,
  doc jsonb NOT NULL,
  schema text,
  created_at bigint NOT NULL,
  updated_at bigint NOT NULL,
  PRIMARY KEY (account, entity, id)
);
CREATE INDEX documents_in_order ON documents (account, entity, seq);
CREATE TABLE md_schemas (
  account text NOT NULL,
  entity text NOT NULL,
  name text NOT NULL,
  body text NOT NULL,
  PRIMARY KEY (account, entity, name)
);
CREATE TABLE schema_members (
  account text NOT NULL,
  entity text NOT NULL,
  id text NOT NULL,
  schema text NOT NULL,
  PRIMARY KEY (account, entity, id, schema)
);
CREATE INDEX schema_members_by_schema ON schema_members (account, entity, schema);
CREATE TABLE scrolls (
  account text NOT NULL,
  token text NOT NULL,
  query text NOT NULL,
  position bigint NOT NULL,
  expires_at bigint NOT NULL,
  PRIMARY KEY (account, token)
);
