//! Invariant 3: a hold acknowledged to a buyer survives `kill -9` of the server. The real
//! binary is killed in the middle of a burst of holds and started again on the same database.
use std::sync::Mutex;

use futures_util::future::join_all;
use reqwest::StatusCode;
use serde_json::{json, Value};

use crate::helpers::{eventually, expect_json, fresh_db_name, server_url, Server, TestApp, User};

const CAPACITY: i64 = 400;

#[actix_web::test]
async fn holds_answered_before_a_kill_9_survive_it_and_nothing_is_sold_twice() {
    let db_name = fresh_db_name();
    let url = format!("{}/{db_name}", server_url());
    let (mut server, port) = Server::start(&url);
    let mut app = TestApp::attach(port, &db_name).await;
    let organizer = app.organizer().await;
    let rows: Vec<Value> = (1..=20)
        .map(|i| json!({"label": format!("R{i}"), "seats": 20}))
        .collect();
    let (event, ticket_type) = app
        .event_with(
            &organizer,
            json!({"seat_mapped": true}),
            Some(json!({"sections": [{"name": "Floor", "rows": rows}]})),
        )
        .await;
    let buyers: Vec<User> = join_all((0..8).map(|_| app.customer())).await;
    let body = json!({"event_id": event, "ticket_type_id": ticket_type["id"], "qty": 2});

    // 32 buyers' connections hold two seats at a time; the server dies under them
    let acknowledged: Mutex<Vec<(usize, Value)>> = Mutex::new(Vec::new());
    let clients = (0..32).map(|i| {
        let (app, body, acknowledged, buyer) = (&app, &body, &acknowledged, &buyers[i % 8]);
        async move {
            while let Ok(response) = app
                .request(
                    reqwest::Method::POST,
                    "/v1/bookings/hold",
                    Some(&buyer.access_token),
                )
                .json(body)
                .send()
                .await
            {
                if response.status() != StatusCode::CREATED {
                    break;
                }
                match response.json::<Value>().await {
                    Ok(booking) => acknowledged.lock().unwrap().push((i % 8, booking)),
                    Err(_) => break,
                }
            }
        }
    });
    let killer = async {
        eventually(60, "the first holds", || async {
            (acknowledged.lock().unwrap().len() >= 40).then_some(())
        })
        .await;
        server.kill_9();
    };
    futures_util::future::join(join_all(clients), killer).await;
    let acknowledged = acknowledged.into_inner().unwrap();
    assert!(acknowledged.len() >= 40 && (acknowledged.len() as i64) * 2 < CAPACITY);

    let (_server, port) = Server::start(&url);
    app.reattach(port);

    // every answered hold is there, held, with the seats it was answered with
    for (buyer, booking) in &acknowledged {
        let path = format!("/v1/bookings/{}", booking["id"].as_str().unwrap());
        let read = expect_json(
            app.get(&path, Some(&buyers[*buyer].access_token)).await,
            StatusCode::OK,
        )
        .await;
        assert_eq!(read["status"], "held");
        assert_eq!(read["seats"], booking["seats"]);
    }
    // no seat in two live bookings, and availability adds up
    let doubled: i64 = sqlx::query_scalar(
        "SELECT count(*) FROM (SELECT seat_id FROM booking_seats WHERE active
                              GROUP BY seat_id HAVING count(*) > 1) d",
    )
    .fetch_one(&app.pool)
    .await
    .unwrap();
    assert_eq!(doubled, 0);
    let live: i64 = sqlx::query_scalar(
        "SELECT COALESCE(sum(number_seats), 0)::bigint FROM bookings WHERE status = 'held'",
    )
    .fetch_one(&app.pool)
    .await
    .unwrap();
    assert!(
        live >= acknowledged.len() as i64 * 2,
        "answered holds are all counted"
    );
    let seats_held: i64 = sqlx::query_scalar("SELECT count(*) FROM booking_seats WHERE active")
        .fetch_one(&app.pool)
        .await
        .unwrap();
    assert_eq!(seats_held, live);
    assert_eq!(app.available(&event).await, CAPACITY - live);
    // and the restarted engine goes on selling from there
    let booking = expect_json(app.hold(&buyers[0], &body).await, StatusCode::CREATED).await;
    assert_eq!(booking["seats"].as_array().unwrap().len(), 2);
    assert_eq!(app.available(&event).await, CAPACITY - live - 2);
}
