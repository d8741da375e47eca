// The diesel schema shared by both backends. Kept by hand in step with migrations/{sqlite,postgres};
// the test `schema_matches_migrations` fails when either backend drifts from this file.

diesel::table! {
    users (id) {
        id -> Text,
        username -> Text,
        password_hash -> Text,
        role -> Text,
        province -> Nullable<Text>,
        enterprise_id -> Nullable<Text>,
        operator_id -> Nullable<Text>,
        display_name -> Text,
        active -> Bool,
        created_at -> Timestamp,
        updated_at -> Timestamp,
    }
}

diesel::table! {
    api_clients (id) {
        id -> Text,
        client_id -> Text,
        secret_hash -> Text,
        name -> Text,
        role -> Text,
        enterprise_id -> Nullable<Text>,
        operator_id -> Nullable<Text>,
        active -> Bool,
        created_at -> Timestamp,
    }
}

diesel::table! {
    login_throttle (key) {
        key -> Text,
        failures -> Integer,
        window_started_at -> Timestamp,
        locked_until -> Nullable<Timestamp>,
    }
}

diesel::table! {
    catalogue_editions (edition) {
        edition -> Integer,
        in_force_from -> Text,
        source -> Text,
        imported_at -> Timestamp,
    }
}

diesel::table! {
    waste_codes (edition, code) {
        edition -> Integer,
        code -> Text,
        category -> Text,
        category_name -> Text,
        industry_source -> Text,
        description -> Text,
        hazards -> Text,
    }
}

diesel::table! {
    calendar_years (year) {
        year -> Integer,
        source -> Text,
        imported_at -> Timestamp,
    }
}

diesel::table! {
    calendar_days (day) {
        day -> Text,
        year -> Integer,
        kind -> Text,
        name_zh -> Text,
        name_en -> Text,
    }
}

diesel::joinable!(waste_codes -> catalogue_editions (edition));
diesel::joinable!(calendar_days -> calendar_years (year));

diesel::allow_tables_to_appear_in_same_query!(
    users,
    api_clients,
    login_throttle,
    catalogue_editions,
    waste_codes,
    calendar_years,
    calendar_days,
);
