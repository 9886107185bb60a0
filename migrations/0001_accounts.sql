-- Accounts: credentials (auth_profiles), refresh-token families, profiles (users), settings, roles.

CREATE FUNCTION set_updated_at() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    NEW.updated_at = now();
    RETURN NEW;
END;
$$;

CREATE TABLE auth_profiles (
    id          UUID PRIMARY KEY,
    email       TEXT NOT NULL CHECK (email = lower(email) AND length(email) <= 254),
    -- argon2id PHC string; never the password itself
    password    TEXT NOT NULL,
    created_at  TIMESTAMPTZ NOT NULL DEFAULT now(),
    updated_at  TIMESTAMPTZ NOT NULL DEFAULT now()
);
CREATE UNIQUE INDEX auth_profiles_email_key ON auth_profiles (email);

-- A login starts a family; every refresh uses one token of the family and adds the next.
-- Presenting a used token again revokes the whole family (someone copied it).
CREATE TABLE auth_refresh_tokens (
    id               UUID PRIMARY KEY,
    auth_profile_id  UUID NOT NULL REFERENCES auth_profiles (id) ON DELETE CASCADE,
    family_id        UUID NOT NULL,
    -- SHA-256 (hex) of the token: a leaked table does not leak usable tokens
    refresh_token    TEXT NOT NULL,
    expired_at       TIMESTAMPTZ NOT NULL,
    used_at          TIMESTAMPTZ,
    revoked_at       TIMESTAMPTZ,
    created_at       TIMESTAMPTZ NOT NULL DEFAULT now(),
    updated_at       TIMESTAMPTZ NOT NULL DEFAULT now()
);
CREATE UNIQUE INDEX auth_refresh_tokens_token_key ON auth_refresh_tokens (refresh_token);
CREATE INDEX auth_refresh_tokens_family_idx ON auth_refresh_tokens (family_id);
CREATE INDEX auth_refresh_tokens_profile_idx ON auth_refresh_tokens (auth_profile_id);
CREATE INDEX auth_refresh_tokens_revoked_idx ON auth_refresh_tokens (revoked_at) WHERE revoked_at IS NOT NULL;

CREATE TABLE users (
    id          UUID PRIMARY KEY REFERENCES auth_profiles (id) ON DELETE CASCADE,
    email       TEXT NOT NULL,
    username    TEXT CHECK (length(username) BETWEEN 3 AND 32),
    avatar      TEXT CHECK (length(avatar) <= 2048),
    birthday    DATE,
    created_at  TIMESTAMPTZ NOT NULL DEFAULT now(),
    updated_at  TIMESTAMPTZ NOT NULL DEFAULT now()
);
CREATE UNIQUE INDEX users_username_key ON users (lower(username)) WHERE username IS NOT NULL;

CREATE TABLE user_settings (
    user_id              UUID PRIMARY KEY REFERENCES users (id) ON DELETE CASCADE,
    email_notifications  BOOLEAN NOT NULL DEFAULT true,
    site_notifications   BOOLEAN NOT NULL DEFAULT true,
    created_at           TIMESTAMPTZ NOT NULL DEFAULT now(),
    updated_at           TIMESTAMPTZ NOT NULL DEFAULT now()
);

-- Every account is a customer; a row here adds organizer or admin.
CREATE TABLE roles (
    user_id     UUID NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    role        TEXT NOT NULL CHECK (role IN ('organizer', 'admin')),
    created_at  TIMESTAMPTZ NOT NULL DEFAULT now(),
    updated_at  TIMESTAMPTZ NOT NULL DEFAULT now(),
    PRIMARY KEY (user_id, role)
);

CREATE TRIGGER auth_profiles_updated_at BEFORE UPDATE ON auth_profiles FOR EACH ROW EXECUTE FUNCTION set_updated_at();
CREATE TRIGGER auth_refresh_tokens_updated_at BEFORE UPDATE ON auth_refresh_tokens FOR EACH ROW EXECUTE FUNCTION set_updated_at();
CREATE TRIGGER users_updated_at BEFORE UPDATE ON users FOR EACH ROW EXECUTE FUNCTION set_updated_at();
CREATE TRIGGER user_settings_updated_at BEFORE UPDATE ON user_settings FOR EACH ROW EXECUTE FUNCTION set_updated_at();
CREATE TRIGGER roles_updated_at BEFORE UPDATE ON roles FOR EACH ROW EXECUTE FUNCTION set_updated_at();
