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
    second_factors (user_id) {
        user_id -> Text,
        secret -> Text,
        confirmed_at -> Nullable<Timestamp>,
        last_step -> Nullable<BigInt>,
        created_at -> Timestamp,
    }
}

diesel::table! {
    recovery_codes (code_hash) {
        code_hash -> Text,
        user_id -> Text,
        used_at -> Nullable<Timestamp>,
    }
}

diesel::table! {
    login_throttle (key) {
        key -> Text,
        failures -> Integer,
        window_started_at -> Timestamp,
        locked_until -> Nullable<Timestamp>,
        lockouts -> Integer,
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
    catalogue_successors (edition, old_code, new_code) {
        edition -> Integer,
        old_code -> Text,
        new_code -> Text,
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

diesel::table! {
    enterprises (id) {
        id -> Text,
        name -> Text,
        uscc -> Text,
        province -> Text,
        division_code -> Text,
        address -> Text,
        contact_name -> Text,
        contact_phone -> Text,
        created_by -> Text,
        created_at -> Timestamp,
        updated_at -> Timestamp,
        kind -> Text,
        collector_operator_id -> Nullable<Text>,
    }
}

diesel::table! {
    operators (id) {
        id -> Text,
        name -> Text,
        uscc -> Text,
        province -> Text,
        division_code -> Text,
        address -> Text,
        created_by -> Text,
        created_at -> Timestamp,
        updated_at -> Timestamp,
    }
}

diesel::table! {
    operator_licences (id) {
        id -> Text,
        operator_id -> Text,
        version -> Integer,
        licence_number -> Text,
        modes -> Text,
        categories -> Text,
        codes -> Text,
        annual_capacity_g -> BigInt,
        valid_from -> Text,
        valid_until -> Text,
        issuing_authority -> Text,
        status -> Text,
        status_reason -> Nullable<Text>,
        recorded_by -> Text,
        recorded_at -> Timestamp,
        category_capacities -> Text,
    }
}

diesel::table! {
    agreements (id) {
        id -> Text,
        province_a -> Text,
        province_b -> Text,
        valid_from -> Text,
        valid_until -> Text,
        receiving_consent -> Text,
        cap_per_application_g -> Nullable<BigInt>,
        status -> Text,
        proposed_by -> Text,
        proposed_by_province -> Text,
        confirmed_by -> Nullable<Text>,
        confirmed_at -> Nullable<Timestamp>,
        created_at -> Timestamp,
        terminated_on -> Nullable<Text>,
        termination_reason -> Nullable<Text>,
        terminated_by -> Nullable<Text>,
        completion_days -> Nullable<Integer>,
        kind -> Text,
    }
}

diesel::table! {
    whitelist_entries (id) {
        id -> Text,
        year -> Integer,
        operator_id -> Text,
        receiving_province -> Text,
        source_province -> Text,
        scope_kind -> Text,
        scope -> Text,
        category -> Text,
        quota_g -> BigInt,
        reserved_g -> BigInt,
        approved_g -> BigInt,
        shipped_g -> BigInt,
        received_g -> BigInt,
        facility -> Nullable<Text>,
        note -> Nullable<Text>,
        status -> Text,
        status_reason -> Nullable<Text>,
        proposed_by -> Text,
        proposed_by_province -> Text,
        confirmed_by -> Nullable<Text>,
        version -> Integer,
        created_at -> Timestamp,
        updated_at -> Timestamp,
        shared_sources -> Text,
    }
}

diesel::table! {
    whitelist_entry_versions (entry_id, version) {
        entry_id -> Text,
        version -> Integer,
        valid_from -> Timestamp,
        recorded_at -> Timestamp,
        status -> Text,
        quota_g -> BigInt,
        change -> Text,
        reason -> Nullable<Text>,
        changed_by -> Text,
        snapshot -> Text,
        letter_number -> Nullable<Text>,
    }
}

diesel::table! {
    quota_ledger (id) {
        id -> Text,
        entry_id -> Text,
        movement -> Text,
        amount_g -> BigInt,
        application_id -> Nullable<Text>,
        actor -> Text,
        created_at -> Timestamp,
    }
}

diesel::table! {
    transfer_applications (id) {
        id -> Text,
        enterprise_id -> Text,
        source_province -> Text,
        source_division -> Text,
        operator_id -> Text,
        receiving_province -> Text,
        route -> Text,
        route_reasons -> Text,
        receiving_consent -> Text,
        status -> Text,
        method -> Text,
        period_start -> Text,
        period_end -> Text,
        carriers -> Text,
        catalogue_edition -> Integer,
        received_at -> Timestamp,
        received_on -> Text,
        accepted_on -> Nullable<Text>,
        deemed_accepted -> Bool,
        correction_notice -> Nullable<Text>,
        approval_number -> Nullable<Text>,
        approved_at -> Nullable<Timestamp>,
        valid_until -> Nullable<Text>,
        idempotency_key -> Nullable<Text>,
        request_hash -> Text,
        filed_by -> Text,
        next_due_at -> Nullable<Timestamp>,
        next_side -> Nullable<Text>,
        version -> Integer,
        created_at -> Timestamp,
        updated_at -> Timestamp,
        quantity_g -> BigInt,
        shipped_g -> BigInt,
        received_g -> BigInt,
        expiry_notice_at -> Nullable<Timestamp>,
        revoked_at -> Nullable<Timestamp>,
        revocation_reasons -> Nullable<Text>,
        refusal_number -> Nullable<Text>,
        refused_at -> Nullable<Timestamp>,
        refusal_reasons -> Nullable<Text>,
        consultation_number -> Nullable<Text>,
        consultation_date -> Nullable<Text>,
        reply_number -> Nullable<Text>,
        reply_date -> Nullable<Text>,
        source_step_open -> Bool,
        receiving_step_open -> Bool,
    }
}

diesel::table! {
    application_items (application_id, line) {
        application_id -> Text,
        line -> Integer,
        waste_code -> Text,
        category -> Text,
        waste_name -> Text,
        physical_form -> Text,
        hazards -> Text,
        packaging -> Text,
        quantity_g -> BigInt,
        entry_id -> Nullable<Text>,
        entry_version -> Nullable<Integer>,
        shipped_g -> BigInt,
        received_g -> BigInt,
    }
}

diesel::table! {
    application_steps (id) {
        id -> Text,
        application_id -> Text,
        kind -> Text,
        side -> Text,
        started_on -> Text,
        working_days -> Integer,
        due_on -> Text,
        due_at -> Timestamp,
        provisional -> Bool,
        completed_at -> Nullable<Timestamp>,
        outcome -> Nullable<Text>,
        overdue_at -> Nullable<Timestamp>,
        reminded_at -> Nullable<Timestamp>,
    }
}

diesel::table! {
    clock_suspensions (id) {
        id -> Text,
        application_id -> Text,
        step_id -> Text,
        reason -> Text,
        suspended_on -> Text,
        resumed_on -> Nullable<Text>,
        suspended_by -> Text,
        resumed_by -> Nullable<Text>,
        created_at -> Timestamp,
    }
}

diesel::table! {
    decisions (id) {
        id -> Text,
        application_id -> Text,
        side -> Text,
        outcome -> Text,
        reasons -> Text,
        conditions -> Text,
        decided_by -> Text,
        decided_at -> Timestamp,
    }
}

diesel::table! {
    application_events (id) {
        id -> Text,
        application_id -> Text,
        kind -> Text,
        actor -> Text,
        role -> Text,
        detail -> Text,
        at -> Timestamp,
    }
}

diesel::table! {
    approval_counters (source_province, year) {
        source_province -> Text,
        year -> Integer,
        last_seq -> Integer,
    }
}

diesel::table! {
    decision_counters (series, source_province, year) {
        series -> Text,
        source_province -> Text,
        year -> Integer,
        last_seq -> Integer,
    }
}

diesel::table! {
    approval_copies (id) {
        id -> Text,
        application_id -> Text,
        recipient -> Text,
        province -> Text,
        department -> Text,
        approval_number -> Text,
        sent_at -> Timestamp,
    }
}

diesel::table! {
    application_attachments (id) {
        id -> Text,
        application_id -> Text,
        kind -> Text,
        filename -> Text,
        content_type -> Text,
        size_bytes -> BigInt,
        sha256 -> Text,
        uploaded_by -> Text,
        uploaded_at -> Timestamp,
    }
}

diesel::table! {
    audit_log (seq) {
        seq -> BigInt,
        id -> Text,
        at -> Timestamp,
        actor -> Text,
        actor_name -> Text,
        role -> Text,
        request_id -> Nullable<Text>,
        object_type -> Text,
        object_id -> Text,
        action -> Text,
        diff -> Text,
        prev_hash -> Text,
        hash -> Text,
    }
}
diesel::table! {
    audit_head (id) {
        id -> Integer,
        seq -> BigInt,
        hash -> Text,
        event_seq -> BigInt,
        crypto -> Nullable<Text>,
        subscriptions_version -> Text,
    }
}
diesel::table! {
    manifests (id) {
        id -> Text,
        number -> Text,
        application_id -> Text,
        enterprise_id -> Text,
        operator_id -> Text,
        source_province -> Text,
        receiving_province -> Text,
        source_city -> Text,
        year -> Integer,
        serial -> Integer,
        status -> Text,
        carrier_name -> Text,
        carrier_permit -> Text,
        vehicle_plate -> Text,
        driver_name -> Text,
        route_from -> Text,
        route_to -> Text,
        departure_at -> Timestamp,
        dispatched_at -> Nullable<Timestamp>,
        receipt_due_on -> Nullable<Text>,
        receipt_due_at -> Nullable<Timestamp>,
        receipt_due_provisional -> Bool,
        receipt_overdue_at -> Nullable<Timestamp>,
        received_at -> Nullable<Timestamp>,
        received_by -> Nullable<Text>,
        rejected_reason -> Nullable<Text>,
        discrepancy -> Bool,
        discrepancy_note -> Nullable<Text>,
        idempotency_key -> Nullable<Text>,
        request_hash -> Text,
        created_by -> Text,
        version -> Integer,
        created_at -> Timestamp,
        updated_at -> Timestamp,
        arrived_at -> Nullable<Timestamp>,
        arrival_reported_by -> Nullable<Text>,
        arrival_recorded_by -> Nullable<Text>,
        back_filled -> Bool,
        paper_number -> Nullable<Text>,
        backfill_due_on -> Nullable<Text>,
        backfill_due_at -> Nullable<Timestamp>,
        backfill_overdue_at -> Nullable<Timestamp>,
    }
}
diesel::table! {
    agreement_members (agreement_id, province) {
        agreement_id -> Text,
        province -> Text,
        confirmed_by -> Nullable<Text>,
        confirmed_at -> Nullable<Timestamp>,
    }
}
diesel::table! {
    manifest_discrepancies (manifest_id, seq) {
        manifest_id -> Text,
        seq -> Integer,
        line -> Integer,
        kind -> Text,
        description -> Text,
        decision -> Text,
        recorded_by -> Text,
        reported_to -> Text,
        reported_at -> Timestamp,
    }
}
diesel::table! {
    manifest_items (manifest_id, line) {
        manifest_id -> Text,
        line -> Integer,
        application_line -> Integer,
        waste_code -> Text,
        quantity_g -> BigInt,
        accepted_g -> Nullable<BigInt>,
    }
}
diesel::table! {
    manifest_counters (source_city, year) {
        source_city -> Text,
        year -> Integer,
        last_serial -> Integer,
    }
}

diesel::joinable!(waste_codes -> catalogue_editions (edition));
diesel::joinable!(catalogue_successors -> catalogue_editions (edition));
diesel::joinable!(calendar_days -> calendar_years (year));
diesel::joinable!(operator_licences -> operators (operator_id));
diesel::joinable!(whitelist_entries -> operators (operator_id));
diesel::joinable!(whitelist_entry_versions -> whitelist_entries (entry_id));
diesel::joinable!(quota_ledger -> whitelist_entries (entry_id));
diesel::joinable!(application_items -> transfer_applications (application_id));
diesel::joinable!(application_steps -> transfer_applications (application_id));
diesel::joinable!(clock_suspensions -> application_steps (step_id));
diesel::joinable!(decisions -> transfer_applications (application_id));
diesel::table! {
    outbox_events (seq) {
        seq -> BigInt,
        id -> Text,
        event_type -> Text,
        object_type -> Text,
        object_id -> Text,
        audience -> Text,
        payload -> Text,
        occurred_at -> Timestamp,
    }
}

diesel::table! {
    webhook_subscriptions (id) {
        id -> Text,
        owner_kind -> Text,
        owner_id -> Text,
        url -> Text,
        event_types -> Text,
        secret -> Text,
        description -> Nullable<Text>,
        status -> Text,
        failing_since -> Nullable<Timestamp>,
        last_success_at -> Nullable<Timestamp>,
        last_failure_at -> Nullable<Timestamp>,
        disabled_at -> Nullable<Timestamp>,
        disabled_reason -> Nullable<Text>,
        created_by -> Text,
        created_at -> Timestamp,
        updated_at -> Timestamp,
        version -> Integer,
    }
}

diesel::table! {
    webhook_deliveries (id) {
        id -> Text,
        subscription_id -> Text,
        event_seq -> BigInt,
        object_id -> Text,
        status -> Text,
        attempts -> Integer,
        next_attempt_at -> Timestamp,
        give_up_at -> Timestamp,
        last_status -> Nullable<Integer>,
        last_error -> Nullable<Text>,
        delivered_at -> Nullable<Timestamp>,
        created_at -> Timestamp,
    }
}

diesel::table! {
    webhook_attempts (id) {
        id -> Text,
        delivery_id -> Text,
        attempt -> Integer,
        at -> Timestamp,
        status_code -> Nullable<Integer>,
        error -> Nullable<Text>,
        duration_ms -> Integer,
    }
}

diesel::table! {
    job_leases (name) {
        name -> Text,
        holder -> Text,
        expires_at -> Timestamp,
    }
}

diesel::joinable!(webhook_deliveries -> webhook_subscriptions (subscription_id));
diesel::joinable!(webhook_deliveries -> outbox_events (event_seq));
diesel::joinable!(webhook_attempts -> webhook_deliveries (delivery_id));
diesel::joinable!(application_events -> transfer_applications (application_id));
diesel::joinable!(application_attachments -> transfer_applications (application_id));
diesel::joinable!(approval_copies -> transfer_applications (application_id));
diesel::joinable!(manifests -> transfer_applications (application_id));
diesel::joinable!(manifest_items -> manifests (manifest_id));
diesel::joinable!(manifest_discrepancies -> manifests (manifest_id));
diesel::joinable!(agreement_members -> agreements (agreement_id));

diesel::table! {
    write_marks (subject) {
        subject -> Text,
        lsn -> BigInt,
        marked_at -> Timestamp,
    }
}

diesel::table! {
    password_history (id) {
        id -> Text,
        user_id -> Text,
        password_hash -> Text,
        set_at -> Timestamp,
    }
}

diesel::table! {
    ui_sessions (id) {
        id -> Text,
        user_id -> Text,
        started_at -> Timestamp,
        last_seen_at -> Timestamp,
        ended_at -> Nullable<Timestamp>,
    }
}

diesel::table! {
    subject_rates (subject) {
        subject -> Text,
        tat_us -> BigInt,
    }
}

// No key of its own (an appended row repeats its folded row's key until the fold); the key
// below is the folded rows' unique index, named for diesel's sake.
diesel::table! {
    transfer_figures (figure, source_province, receiving_province, label, day) {
        folded -> Bool,
        figure -> Text,
        source_province -> Text,
        receiving_province -> Text,
        label -> Text,
        day -> Text,
        n -> BigInt,
        quantity_g -> BigInt,
        shipped_g -> BigInt,
        received_g -> BigInt,
        on_time -> BigInt,
    }
}

diesel::allow_tables_to_appear_in_same_query!(
    users,
    api_clients,
    login_throttle,
    second_factors,
    recovery_codes,
    catalogue_editions,
    catalogue_successors,
    waste_codes,
    calendar_years,
    calendar_days,
    enterprises,
    operators,
    operator_licences,
    agreements,
    whitelist_entries,
    whitelist_entry_versions,
    quota_ledger,
    transfer_applications,
    application_items,
    application_steps,
    clock_suspensions,
    decisions,
    application_events,
    approval_counters,
    decision_counters,
    approval_copies,
    application_attachments,
    audit_log,
    audit_head,
    manifests,
    manifest_items,
    manifest_discrepancies,
    agreement_members,
    manifest_counters,
    outbox_events,
    webhook_subscriptions,
    webhook_deliveries,
    webhook_attempts,
    job_leases,
    write_marks,
    password_history,
    ui_sessions,
    subject_rates,
    transfer_figures,
);
