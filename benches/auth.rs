//! What authentication costs per request: verifying the access token runs on every
//! authenticated call (the hold path included); issuing one and hashing a password run per login.
use argon2::password_hash::{rand_core::OsRng, PasswordHasher, SaltString};
use argon2::Argon2;
use boxoffice::auth::{JwtKeys, Role};
use boxoffice::config::Secret;
use boxoffice_actors::ids::UserId;
use criterion::{criterion_group, criterion_main, Criterion};
use std::hint::black_box;

fn tokens(c: &mut Criterion) {
    let keys = JwtKeys::new(&Secret::new("bench-secret-bench-secret-bench-secret"), 900);
    let token = keys.issue(
        UserId::new(),
        uuid::Uuid::now_v7(),
        vec![Role::Customer],
        chrono::Utc::now(),
    );
    c.bench_function("jwt_verify", |b| {
        b.iter(|| keys.verify(black_box(&token)).unwrap())
    });
    c.bench_function("jwt_issue", |b| {
        b.iter(|| {
            keys.issue(
                black_box(UserId::new()),
                uuid::Uuid::now_v7(),
                vec![Role::Customer],
                chrono::Utc::now(),
            )
        })
    });
}

fn password_hash(c: &mut Criterion) {
    let mut group = c.benchmark_group("argon2id_default");
    group.sample_size(10);
    group.bench_function("hash", |b| {
        b.iter(|| {
            let salt = SaltString::generate(&mut OsRng);
            Argon2::default()
                .hash_password(black_box(b"correct horse battery"), &salt)
                .unwrap()
                .to_string()
        })
    });
    group.finish();
}

criterion_group!(benches, tokens, password_hash);
criterion_main!(benches);
